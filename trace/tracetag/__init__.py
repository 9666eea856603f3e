"""tracetag: signed traceability records and GS1 Digital Link tags for Vietnamese producers."""

__version__ = "0.1.0"
