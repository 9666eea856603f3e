"""The database module's old name, kept for accounts/ alone while it moves into identity/.

Everything else imports tracetag.core.database; delete this file once accounts/ (or identity/)
does too.
"""

from tracetag.core.database import Base, UTCDateTime, utcnow

__all__ = ["Base", "UTCDateTime", "utcnow"]
