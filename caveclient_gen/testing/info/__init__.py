"""The info service: the routes over the deployment's aligned volumes and datastacks."""
