"""County administrators' oversight: the audit viewer and the access review
(:mod:`web.oversight.audit_log`, :mod:`web.oversight.access_review`), and the
directory of staff members seen at login that both read
(:mod:`web.oversight.models`)."""
