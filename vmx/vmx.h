/* The Intel VMX backend (vmx.c): VMCS accessors that report failures by name. */
#ifndef NESTOR_VMX_H
#define NESTOR_VMX_H
#include <stdint.h>
uint64_t vmcs_read(uint32_t field);
void vmcs_write(uint32_t field, uint64_t value);
#endif
