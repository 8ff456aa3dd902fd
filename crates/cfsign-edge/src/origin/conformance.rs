//! The conformance suite every origin runs (filled in by the origin tests).
