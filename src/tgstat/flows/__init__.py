"""Prefect flows, deployments and serving: the only package that imports prefect."""
