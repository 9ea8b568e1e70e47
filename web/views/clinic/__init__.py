"""The clinic console (``/staff/klinikk/{slug}/…``)."""
