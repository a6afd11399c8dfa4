/* A fake libnvidia-ml for the CLI tests (JOULEBENCH_NVML_LIBRARY=<this .so>): one GPU drawing
 * 100 W, with an energy counter and power readings, whose compute processes are the calling
 * process plus, when JB_FAKE_NVML_OTHER_PID is set, that one: a GPU shared with another job.
 * JB_FAKE_NVML_WARMING=1: the power grows by e (x2.72) per second from the first reading on (up to
 * 10 s), so the GPU never comes back within 15 % of any earlier power, however slowly the test runs. */
#include <math.h>
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
static int warming(void) {
    const char * w = getenv("JB_FAKE_NVML_WARMING");
    return w && strcmp(w, "1") == 0;
}

/* Seconds since the first reading of this process. */
static double since_start_s(void) {
    static double t0 = -1.0;
    const double t = now_s();
    if (t0 < 0) t0 = t;
    return t - t0;
}

/* Watts at t, and their integral from 0 (J): 100 W, or 100 e^t W when warming, flat after 10 s. */
static double watts_at(double t) { return warming() ? 100.0 * exp(fmin(t, 10.0)) : 100.0; }
static double joules_to(double t) {
    if (!warming()) return 100.0 * t;
    return 100.0 * (exp(fmin(t, 10.0)) - 1.0) + (t > 10.0 ? watts_at(10.0) * (t - 10.0) : 0.0);
}

int nvmlDeviceGetTotalEnergyConsumption(void * device, unsigned long long * energy_mj) {
    (void)device;
    *energy_mj = (unsigned long long)((1e6 + joules_to(since_start_s())) * 1000.0);
    return 0;
}
int nvmlDeviceGetPowerUsage(void * device, unsigned int * power_mw) {
    (void)device;
    *power_mw = (unsigned int)(watts_at(since_start_s()) * 1000.0);
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
