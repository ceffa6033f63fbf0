"""Content-addressed, encrypted artifact storage.

``objects`` stores bytes by the SHA-256 of their plaintext on a local folder or S3;
``crypto`` seals them with chunked AES-256-GCM; ``keys`` holds master keys and wraps data
keys; ``catalog`` joins it all to the metadata store (``ws.artifacts``, ``ws.keys``).
"""
