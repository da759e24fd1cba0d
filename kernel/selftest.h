#ifndef NESTOR_SELFTEST_H
#define NESTOR_SELFTEST_H
#include "kernel/config.h"
void selftest_run(enum cfg_selftest which);
#endif
