#ifndef NESTOR_RUN_H
#define NESTOR_RUN_H
#include "kernel/config.h"
void run_set_exit_mode(enum cfg_exit_mode mode);
#endif
