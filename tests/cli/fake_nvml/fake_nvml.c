/* A fake libnvidia-ml for the CLI tests (JOULEBENCH_NVML_LIBRARY=<this .so>): one GPU drawing
 * 100 W, with an energy counter and power readings, whose compute processes are the calling
 * process plus, when JB_FAKE_NVML_OTHER_PID is set, that one: a GPU shared with another job. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId;
    unsigned int computeInstanceId;
} nvmlProcessInfo_t;

static int device_token;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int nvmlInit_v2(void) { return 0; }
int nvmlShutdown(void) { return 0; }
int nvmlDeviceGetCount_v2(unsigned int * count) {
    *count = 1;
    return 0;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned int index, void ** device) {
    if (index != 0) return 2;
    *device = &device_token;
    return 0;
}
int nvmlDeviceGetName(void * device, char * out, unsigned int length) {
    (void)device;
    strncpy(out, "Fake GPU", length);
    return 0;
}
int nvmlDeviceGetUUID(void * device, char * out, unsigned int length) {
    (void)device;
    strncpy(out, "GPU-fake-0000", length);
    return 0;
}
int nvmlDeviceGetTotalEnergyConsumption(void * device, unsigned long long * energy_mj) {
    (void)device;
    *energy_mj = (unsigned long long)(now_s() * 100.0 * 1000.0);  /* 100 W */
    return 0;
}
int nvmlDeviceGetPowerUsage(void * device, unsigned int * power_mw) {
    (void)device;
    *power_mw = 100000;
    return 0;
}
int nvmlDeviceGetComputeRunningProcesses_v3(void * device, unsigned int * count, nvmlProcessInfo_t * infos) {
    (void)device;
    const char * other = getenv("JB_FAKE_NVML_OTHER_PID");
    unsigned int n = other ? 2 : 1;
    if (*count < n) {
        *count = n;
        return 7; /* NVML_ERROR_INSUFFICIENT_SIZE */
    }
    memset(infos, 0, sizeof(*infos) * n);
    infos[0].pid = (unsigned int)getpid();
    if (other) infos[1].pid = (unsigned int)atoi(other);
    *count = n;
    return 0;
}
