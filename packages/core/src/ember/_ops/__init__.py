"""Op implementations, one module per family; each registers its ops in ember._registry."""
