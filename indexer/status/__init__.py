"""What an operator asks first: each tenant's index, last reindex, and the lag."""

from indexer.status.report import Status, TenantStatus, gather

__all__ = ["Status", "TenantStatus", "gather"]
