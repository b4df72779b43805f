"""The bottom layer every job shares: user-facing errors, environment files, run folders and atomic files,
redaction and child processes. It imports nothing of rxsuite's own above it."""
