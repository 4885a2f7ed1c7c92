"""Gaia validator databases for the tests: DDL at Gaia revisions, odd rows, catalog facts."""
