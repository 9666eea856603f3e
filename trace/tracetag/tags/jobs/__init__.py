"""Tag jobs: runs too large for one request, queued in the database and issued by a worker."""
