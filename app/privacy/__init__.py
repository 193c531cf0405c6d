"""Data-subject rights: consent, the download of one's own data, erasure, retention."""
