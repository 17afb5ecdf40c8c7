"""Elasticsearch: client and retries, index admin, document formatting, the store over the indices."""
