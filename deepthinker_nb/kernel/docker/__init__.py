"""The Docker backend: ipykernel in a hardened container, started by a kernel provisioner."""
