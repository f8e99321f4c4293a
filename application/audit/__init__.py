"""Auditor tools: verify the whole record, balances as of any instant, statements, exports."""
