"""What makes a JSON value a batch record (docs/FORMATS.md §3): its type and its data sections.

The service builds records (batches/record.py) and the inspector's verifier reads them
(verify/records.py); both take these names from here.
"""

RECORD_TYPE = "tracetag.batch-record/1"
CONTENT_SECTIONS = ("trace_code", "product", "producer", "batch")
