"""Stand-ins for hardware these machines lack: a powercap tree and an NVML library."""
