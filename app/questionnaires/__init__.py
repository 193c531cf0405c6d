"""The organisation's instruments: listing, uploading, previewing and trying them out."""
