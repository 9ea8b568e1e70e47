"""National-scale benchmarks of Tanntid on PostgreSQL (``python -m benchmarks``)."""
