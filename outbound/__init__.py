"""Calling outside APIs: one pooled session per process, explicit timeouts, and failures sorted in two kinds.

    OutboundError
    ├── Retryable   429, 5xx, timeouts, connection errors: try again later, never commit past the event
    └── Permanent   other 4xx, a rejected payload: retrying cannot help; dead-letter with the reason
"""
