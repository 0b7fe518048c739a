// soak_probe: the soak's outside measurements (resident memory: rl::process_resident_mib). Device
// memory from nvidia-smi (the driver's count, independent of what the engine believes it holds):
// the whole device, and this process's line when the driver can list it (a container may hide
// the host pid). -1 where there is nothing to read (no GPU, no nvidia-smi).
#pragma once

namespace rl::soak {

struct gpu_memory {
    long long device_used = -1;    // MiB, nvidia-smi --query-gpu=memory.used (GPU 0)
    long long this_process = -1;   // MiB, nvidia-smi --query-compute-apps for getpid()
};
gpu_memory gpu_memory_mib();

/// A TCP port free on 127.0.0.1 now (bound to port 0 and released).
int free_tcp_port();

} // namespace rl::soak
