"""Headless browser journeys: Playwright through the platform's pages, with web vitals and failure artifacts."""
