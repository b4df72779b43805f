"""The accounts job: synthetic users created and deleted through GoTrue's admin API (`rxsuite accounts`)."""
