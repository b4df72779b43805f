"""Which synthetic account each journey uses, counted from the end of the credentials file (1 = last).

One patient per journey, so journeys never share state: any of them can fail, be retried or run alone. The
last two patients are left to the API contract tests' rate-limit bursts; load runs take logins from the front.
"""

SIGNED_IN_PATIENT = 3
OTHER_PATIENT = 4
RENEWING_PATIENT = 5
APPROVED_PATIENT = 6
PAYING_PATIENT = 7
DECLINED_PATIENT = 8
DISPENSED_PATIENT = 9
REJECTED_PATIENT = 10
HEADERS_PATIENT = 11
PRYING_PATIENT = 12
QUEUE_DOCTOR = 1
PHARMACIST = 1
