/*
 * Unit tests: arch/x86/decode.c, the instruction decoder and MMIO layer.
 *
 * The length table holds real encodings written out by hand, each with the
 * instruction it is (Intel syntax) and its length; they were cross-checked
 * against LLVM's disassembler, except where the comment says the decoder
 * follows AMD/QEMU behaviour or accepts an encoding LLVM doesn't know.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/decode.h"

#define R16 X86_MODE_REAL16
#define P16 X86_MODE_PROT16
#define P32 X86_MODE_PROT32
#define L64 X86_MODE_LONG64

/* "0f 01 d8" -> bytes; returns the count. */
static size_t hex(const char *s, uint8_t *out, size_t max)
{
	size_t n = 0;
	unsigned v;
	int k;

	while (sscanf(s, " %2x%n", &v, &k) == 1) {
		assert_true(n < max);
		out[n++] = (uint8_t)v;
		s += k;
	}
	return n;
}

static int dec(enum x86_mode mode, const char *bytes, struct x86_insn *in)
{
	uint8_t b[32];
	size_t n = hex(bytes, b, sizeof(b));

	return x86_decode(b, n, mode, in);
}

/* ---- lengths ---- */

struct len_case {
	enum x86_mode mode;
	const char *bytes;
	int len;            /* expected length, or X86_DECODE_INVALID */
	const char *what;
};

static const struct len_case len_cases[] = {
	/* prefixes */
	{ L64, "90",                         1, "nop" },
	{ L64, "f3 90",                      2, "pause" },
	{ L64, "66 90",                      2, "xchg ax,ax" },
	{ L64, "f0 48 0f b1 0a",             5, "lock cmpxchg [rdx],rcx" },
	{ L64, "f3 48 a5",                   3, "rep movsq" },
	{ L64, "f2 ae",                      2, "repne scasb" },
	{ L64, "2e 3e 26 36 64 65 8b 00",    8, "mov eax,gs:[rax] (six segment prefixes)" },
	{ L64, "67 8b 00",                   3, "mov eax,[eax]" },
	{ L64, "66 67 f3 ab",                4, "rep stosw [edi]" },
	{ L64, "41 50",                      2, "push r8" },
	{ L64, "48 41 8b 00",                4, "mov eax,[r8] (only the last REX counts)" },
	{ L64, "48 66 8b 00",                4, "mov ax,[rax] (REX before 66 is ignored)" },
	/* ModRM / SIB / displacement, 64-bit */
	{ L64, "8b 00",                      2, "mov eax,[rax]" },
	{ L64, "8b c1",                      2, "mov eax,ecx" },
	{ L64, "8b 04 24",                   3, "mov eax,[rsp]" },
	{ L64, "8b 45 08",                   3, "mov eax,[rbp+8]" },
	{ L64, "8b 85 00 01 00 00",          6, "mov eax,[rbp+0x100]" },
	{ L64, "8b 05 78 56 34 12",          6, "mov eax,[rip+0x12345678]" },
	{ L64, "8b 04 25 00 10 00 00",       7, "mov eax,[0x1000] (SIB, no base, no index)" },
	{ L64, "8b 44 8d f0",                4, "mov eax,[rbp+rcx*4-0x10]" },
	{ L64, "8b 84 c8 00 01 00 00",       7, "mov eax,[rax+rcx*8+0x100]" },
	{ L64, "8b 04 cd 00 00 00 00",       7, "mov eax,[rcx*8+0]" },
	{ L64, "41 8b 04 24",                4, "mov eax,[r12] (needs SIB like rsp)" },
	{ L64, "41 8b 45 00",                4, "mov eax,[r13+0] (needs disp8 like rbp)" },
	{ L64, "41 8b 05 00 00 00 00",       7, "mov eax,[rip+0] (REX.B doesn't change mod 00 rm 101)" },
	{ L64, "42 8b 04 20",                4, "mov eax,[rax+r12] (r12 is a valid index)" },
	{ L64, "4c 8b 1c 24",                4, "mov r11,[rsp]" },
	{ L64, "67 8b 05 00 00 00 00",       7, "mov eax,[eip+0]" },
	/* ModRM, 32-bit mode */
	{ P32, "8b 05 00 10 00 00",          6, "mov eax,[0x1000] (absolute, not RIP)" },
	{ P32, "8b 04 24",                   3, "mov eax,[esp]" },
	{ P32, "66 8b 00",                   3, "mov ax,[eax]" },
	{ P32, "67 8b 00",                   3, "mov eax,[bx+si]" },
	{ P32, "67 8b 06 34 12",             5, "mov eax,[0x1234]" },
	{ P32, "40",                         1, "inc eax (not REX)" },
	{ P32, "48",                         1, "dec eax" },
	/* 16-bit ModRM (real mode) */
	{ R16, "8b 00",                      2, "mov ax,[bx+si]" },
	{ R16, "8b 06 34 12",                4, "mov ax,[0x1234]" },
	{ R16, "8b 46 02",                   3, "mov ax,[bp+2]" },
	{ R16, "8b 46 fe",                   3, "mov ax,[bp-2]" },
	{ R16, "8b 87 34 12",                4, "mov ax,[bx+0x1234]" },
	{ R16, "8b c1",                      2, "mov ax,cx" },
	{ R16, "66 8b 00",                   3, "mov eax,[bx+si]" },
	{ R16, "67 8b 04 24",                4, "mov ax,[esp] (32-bit addressing in real mode)" },
	{ R16, "67 8b 05 00 10 00 00",       7, "mov ax,[0x1000]" },
	{ P16, "8b 00",                      2, "mov ax,[bx+si]" },
	{ P16, "c7 06 34 12 78 56",          6, "mov word [0x1234],0x5678" },
	/* immediates */
	{ L64, "04 01",                      2, "add al,1" },
	{ L64, "05 78 56 34 12",             5, "add eax,imm32" },
	{ L64, "66 05 34 12",                4, "add ax,imm16" },
	{ L64, "48 05 78 56 34 12",          6, "add rax,simm32" },
	{ L64, "80 c1 01",                   3, "add cl,1" },
	{ L64, "81 c1 78 56 34 12",          6, "add ecx,imm32" },
	{ L64, "66 81 c1 34 12",             5, "add cx,imm16" },
	{ L64, "83 c1 ff",                   3, "add ecx,-1" },
	{ L64, "6a ff",                      2, "push -1" },
	{ L64, "68 78 56 34 12",             5, "push simm32" },
	{ L64, "66 68 34 12",                4, "push imm16" },
	{ L64, "69 c0 78 56 34 12",          6, "imul eax,eax,imm32" },
	{ L64, "6b c0 05",                   3, "imul eax,eax,5" },
	{ L64, "a8 01",                      2, "test al,1" },
	{ L64, "a9 78 56 34 12",             5, "test eax,imm32" },
	{ L64, "c2 08 00",                   3, "ret 8" },
	{ L64, "ca 08 00",                   3, "retf 8" },
	{ L64, "c3",                         1, "ret" },
	{ L64, "c8 10 00 01",                4, "enter 16,1" },
	{ L64, "b0 ff",                      2, "mov al,0xff" },
	{ L64, "b8 78 56 34 12",             5, "mov eax,imm32" },
	{ L64, "66 b8 34 12",                4, "mov ax,imm16" },
	{ L64, "41 b8 78 56 34 12",          6, "mov r8d,imm32" },
	{ L64, "48 b8 88 77 66 55 44 33 22 11", 10, "mov rax,imm64" },
	{ L64, "49 bf 88 77 66 55 44 33 22 11", 10, "mov r15,imm64" },
	{ L64, "f6 c1 01",                   3, "test cl,1" },
	{ L64, "f6 48 10 01",                4, "test byte [rax+16],1 (/1 alias)" },
	{ L64, "f6 d1",                      2, "not cl (no immediate)" },
	{ L64, "f6 f1",                      2, "div cl" },
	{ L64, "f7 c1 78 56 34 12",          6, "test ecx,imm32" },
	{ L64, "66 f7 c1 34 12",             5, "test cx,imm16" },
	{ L64, "48 f7 c1 78 56 34 12",       7, "test rcx,simm32" },
	{ L64, "f7 d1",                      2, "not ecx" },
	{ L64, "f7 60 10",                   3, "mul dword [rax+16]" },
	{ L64, "c6 00 01",                   3, "mov byte [rax],1" },
	{ L64, "c7 00 78 56 34 12",          6, "mov dword [rax],imm32" },
	{ L64, "66 c7 00 34 12",             5, "mov word [rax],imm16" },
	{ L64, "48 c7 c0 ff ff ff ff",       7, "mov rax,-1" },
	{ L64, "c6 f8 01",                   3, "xabort 1" },
	{ L64, "c7 f8 00 00 00 00",          6, "xbegin rel32" },
	{ R16, "c7 f8 00 00",                4, "xbegin rel16 (16-bit operand size)" },
	{ L64, "c0 e0 04",                   3, "shl al,4" },
	{ L64, "c1 e0 04",                   3, "shl eax,4" },
	{ L64, "d1 e0",                      2, "shl eax,1" },
	{ L64, "d3 e0",                      2, "shl eax,cl" },
	{ L64, "e4 60",                      2, "in al,0x60" },
	{ L64, "e7 64",                      2, "out 0x64,eax" },
	{ L64, "ec",                         1, "in al,dx" },
	{ L64, "cd 80",                      2, "int 0x80" },
	{ L64, "cc",                         1, "int3" },
	{ L64, "f1",                         1, "int1 (icebp)" },
	/* moffs */
	{ L64, "a0 88 77 66 55 44 33 22 11", 9, "mov al,[moffs64]" },
	{ L64, "48 a1 88 77 66 55 44 33 22 11", 10, "mov rax,[moffs64]" },
	{ L64, "67 a0 44 33 22 11",          6, "mov al,[moffs32]" },
	{ P32, "a1 78 56 34 12",             5, "mov eax,[moffs32]" },
	{ P32, "67 a1 34 12",                4, "mov eax,[moffs16]" },
	{ R16, "a0 34 12",                   3, "mov al,[0x1234]" },
	{ R16, "67 a3 78 56 34 12",          6, "mov [moffs32],ax" },
	/* branches */
	{ L64, "e8 00 00 00 00",             5, "call rel32" },
	{ L64, "e9 00 00 00 00",             5, "jmp rel32" },
	{ L64, "eb fe",                      2, "jmp $" },
	{ L64, "74 00",                      2, "je rel8" },
	{ L64, "0f 84 00 00 00 00",          6, "je rel32" },
	{ L64, "e3 fe",                      2, "jrcxz" },
	{ L64, "e2 fe",                      2, "loop" },
	{ L64, "66 e8 34 12",                4, "call rel16 (AMD and QEMU; Intel ignores 66)" },
	{ L64, "66 48 e8 00 00 00 00",       7, "call rel32 (REX.W wins over 66)" },
	{ L64, "ff d0",                      2, "call rax" },
	{ L64, "ff 25 00 00 00 00",          6, "jmp [rip]" },
	{ L64, "ff 30",                      2, "push qword [rax]" },
	{ L64, "ff c0",                      2, "inc eax" },
	{ L64, "fe c8",                      2, "dec al" },
	{ L64, "8f 00",                      2, "pop qword [rax]" },
	{ L64, "8c d8",                      2, "mov eax,ds" },
	{ L64, "8e 5d 08",                   3, "mov ds,[rbp+8]" },
	{ R16, "8e d0",                      2, "mov ss,ax" },
	{ P32, "e8 00 00 00 00",             5, "call rel32" },
	{ P32, "66 e8 00 00",                4, "call rel16" },
	{ P32, "9a 78 56 34 12 00 10",       7, "call far 0x1000:0x12345678" },
	{ P32, "66 ea 34 12 00 10",          6, "jmp far 0x1000:0x1234" },
	{ R16, "e8 34 12",                   3, "call rel16" },
	{ R16, "e9 34 12",                   3, "jmp rel16" },
	{ R16, "0f 84 34 12",                4, "je rel16" },
	{ R16, "ea 00 7c 00 00",             5, "jmp far 0:0x7c00" },
	{ R16, "66 ea 00 7c 00 00 08 00",    8, "jmp far 8:0x7c00 (ptr16:32)" },
	{ R16, "cd 10",                      2, "int 0x10" },
	{ R16, "68 34 12",                   3, "push 0x1234" },
	{ R16, "66 68 78 56 34 12",          6, "push dword imm32" },
	{ R16, "0f 01 16 34 12",             5, "lgdt [0x1234]" },
	{ R16, "0f 20 c0",                   3, "mov eax,cr0" },
	{ R16, "0f 22 c0",                   3, "mov cr0,eax" },
	/* legacy-only opcodes, valid outside 64-bit mode */
	{ P32, "06",                         1, "push es" },
	{ P32, "1f",                         1, "pop ds" },
	{ P32, "27",                         1, "daa" },
	{ P32, "60",                         1, "pusha" },
	{ P32, "d4 0a",                      2, "aam" },
	{ P32, "d5 0a",                      2, "aad" },
	{ P32, "d6",                         1, "salc" },
	{ P32, "ce",                         1, "into" },
	{ P32, "82 c0 01",                   3, "add al,1 (82 alias)" },
	{ P32, "c4 00",                      2, "les eax,[eax]" },
	{ P32, "c5 00",                      2, "lds eax,[eax]" },
	{ P32, "62 00",                      2, "bound eax,[eax]" },
	{ P32, "63 c8",                      2, "arpl ax,cx" },
	/* two-byte map */
	{ L64, "0f 05",                      2, "syscall" },
	{ L64, "0f 07",                      2, "sysret" },
	{ L64, "0f 0b",                      2, "ud2" },
	{ L64, "0f a2",                      2, "cpuid" },
	{ L64, "0f 30",                      2, "wrmsr" },
	{ L64, "0f 31",                      2, "rdtsc" },
	{ L64, "0f 32",                      2, "rdmsr" },
	{ L64, "0f 34",                      2, "sysenter" },
	{ L64, "0f 20 c0",                   3, "mov rax,cr0" },
	{ L64, "0f 22 d8",                   3, "mov cr3,rax" },
	{ L64, "44 0f 20 c0",                4, "mov rax,cr8" },
	{ L64, "0f 21 f8",                   3, "mov rax,dr7" },
	{ L64, "0f 20 00",                   3, "mov rax,cr0 (mod ignored: no memory form)" },
	{ L64, "0f 1f 44 00 00",             5, "nop dword [rax+rax+0]" },
	{ L64, "66 0f 1f 84 00 00 00 00 00", 9, "nop word [rax+rax+0]" },
	{ L64, "f3 0f 1e fa",                4, "endbr64" },
	{ L64, "0f ae f0",                   3, "mfence" },
	{ L64, "0f ae 38",                   3, "clflush [rax]" },
	{ L64, "0f c8",                      2, "bswap eax" },
	{ L64, "48 0f c7 0e",                4, "cmpxchg16b [rsi]" },
	{ L64, "0f b6 c1",                   3, "movzx eax,cl" },
	{ L64, "0f bf 00",                   3, "movsx eax,word [rax]" },
	{ L64, "f3 0f b8 c1",                4, "popcnt eax,ecx" },
	{ L64, "0f ff 00",                   3, "ud0 eax,[rax]" },
	{ L64, "0f b9 00",                   3, "ud1 eax,[rax]" },
	{ L64, "0f 0d 08",                   3, "prefetchw [rax]" },
	{ L64, "0f 18 00",                   3, "prefetchnta [rax]" },
	{ L64, "0f ba e0 05",                4, "bt eax,5" },
	{ L64, "0f a4 c2 04",                4, "shld edx,eax,4" },
	{ L64, "0f ac c2 04",                4, "shrd edx,eax,4" },
	{ L64, "0f a5 c2",                   3, "shld edx,eax,cl" },
	{ L64, "0f a0",                      2, "push fs" },
	{ L64, "0f 70 c1 1b",                4, "pshufw mm0,mm1,0x1b" },
	{ L64, "66 0f 70 c1 1b",             5, "pshufd xmm0,xmm1,0x1b" },
	{ L64, "66 0f 73 d9 04",             5, "psrldq xmm1,4" },
	{ L64, "0f c2 c1 00",                4, "cmpeqps xmm0,xmm1" },
	{ L64, "66 0f c4 c0 01",             5, "pinsrw xmm0,eax,1" },
	{ L64, "0f c6 c1 00",                4, "shufps xmm0,xmm1,0" },
	{ L64, "0f 28 05 00 00 00 00",       7, "movaps xmm0,[rip]" },
	{ L64, "0f 0e",                      2, "femms" },
	/* three-byte maps */
	{ L64, "66 0f 38 00 c1",             5, "pshufb xmm0,xmm1" },
	{ L64, "66 0f 3a 0f c1 08",          6, "palignr xmm0,xmm1,8" },
	{ L64, "66 0f 3a 16 c0 01",          6, "pextrd eax,xmm0,1" },
	{ L64, "f2 0f 38 f1 c1",             5, "crc32 eax,ecx" },
	{ L64, "0f 38 f0 00",                4, "movbe eax,[rax]" },
	{ L64, "66 0f 3a 44 44 24 10 00",    8, "pclmulqdq xmm0,[rsp+16],0" },
	/* 3DNow! (suffix byte is an imm8 after the operands) */
	{ L64, "0f 0f c1 9e",                4, "pfadd mm0,mm1" },
	{ L64, "0f 0f 40 10 b4",             5, "pfmul mm0,[rax+16]" },
	/* x87 */
	{ L64, "d9 c0",                      2, "fld st0" },
	{ L64, "dd 05 00 00 00 00",          6, "fld qword [rip]" },
	{ L64, "db 2c 24",                   3, "fld tword [rsp]" },
	{ L64, "df e0",                      2, "fnstsw ax" },
	{ L64, "d9 ee",                      2, "fldz" },
	{ L64, "de c1",                      2, "faddp" },
	{ L64, "9b",                         1, "fwait" },
	/* group 7 (0F 01): SVM, VMX and friends */
	{ L64, "0f 01 d8",                   3, "vmrun" },
	{ L64, "0f 01 d9",                   3, "vmmcall" },
	{ L64, "0f 01 da",                   3, "vmload" },
	{ L64, "0f 01 db",                   3, "vmsave" },
	{ L64, "0f 01 dc",                   3, "stgi" },
	{ L64, "0f 01 dd",                   3, "clgi" },
	{ L64, "0f 01 de",                   3, "skinit" },
	{ L64, "0f 01 df",                   3, "invlpga" },
	{ L64, "0f 01 c1",                   3, "vmcall" },
	{ L64, "0f 01 c2",                   3, "vmlaunch" },
	{ L64, "0f 01 c3",                   3, "vmresume" },
	{ L64, "0f 01 c4",                   3, "vmxoff" },
	{ L64, "0f 01 c8",                   3, "monitor" },
	{ L64, "0f 01 c9",                   3, "mwait" },
	{ L64, "0f 01 ca",                   3, "clac" },
	{ L64, "0f 01 cb",                   3, "stac" },
	{ L64, "0f 01 d0",                   3, "xgetbv" },
	{ L64, "0f 01 d1",                   3, "xsetbv" },
	{ L64, "0f 01 f8",                   3, "swapgs" },
	{ L64, "0f 01 f9",                   3, "rdtscp" },
	{ L64, "0f 01 38",                   3, "invlpg [rax]" },
	{ L64, "0f 01 15 00 00 00 00",       7, "lgdt [rip]" },
	{ L64, "0f 01 e0",                   3, "smsw eax" },
	{ L64, "0f 00 d8",                   3, "ltr ax" },
	/* VMX */
	{ L64, "0f 78 c8",                   3, "vmread rax,rcx" },
	{ L64, "0f 79 c1",                   3, "vmwrite rax,rcx" },
	{ L64, "0f c7 30",                   3, "vmptrld [rax]" },
	{ L64, "66 0f c7 30",                4, "vmclear [rax]" },
	{ L64, "f3 0f c7 30",                4, "vmxon [rax]" },
	{ L64, "0f c7 38",                   3, "vmptrst [rax]" },
	{ L64, "66 0f 38 80 08",             5, "invept rcx,[rax]" },
	{ L64, "66 0f 38 81 08",             5, "invvpid rcx,[rax]" },
	/* SSE4a (AMD): two imm8 */
	{ L64, "66 0f 78 c0 04 08",          6, "extrq xmm0,4,8" },
	{ L64, "f2 0f 78 c1 04 08",          6, "insertq xmm0,xmm1,4,8" },
	{ L64, "66 0f 79 c1",                4, "extrq xmm0,xmm1" },
	{ L64, "66 0f 78 c8 04 08",          6, "extrq with reg=1 (length only)" },
	{ L64, "66 0f 78 40 10 04 08",       7, "extrq with a memory form (length only)" },
	/* VEX */
	{ L64, "c5 f8 77",                   3, "vzeroupper" },
	{ L64, "c5 fc 77",                   3, "vzeroall" },
	{ L64, "c5 f9 6f 01",                4, "vmovdqa xmm0,[rcx]" },
	{ L64, "c5 fd 6f 05 00 00 00 00",    8, "vmovdqa ymm0,[rip]" },
	{ L64, "c5 f9 70 c1 1b",             5, "vpshufd xmm0,xmm1,0x1b" },
	{ L64, "c4 e3 79 0f c1 08",          6, "vpalignr xmm0,xmm0,xmm1,8" },
	{ L64, "c4 e2 79 00 c1",             5, "vpshufb xmm0,xmm0,xmm1" },
	{ L64, "c4 41 7c 28 00",             5, "vmovaps ymm8,[r8]" },
	{ L64, "c4 e2 f0 f2 c2",             5, "andn rax,rcx,rdx" },
	{ L64, "c4 e3 fd 00 c1 1b",          6, "vpermq ymm0,ymm1,0x1b" },
	{ L64, "26 c5 f8 77",                4, "vzeroupper (segment prefix allowed)" },
	{ P32, "c5 f8 77",                   3, "vzeroupper" },
	{ P32, "c4 e2 79 00 00",             5, "vpshufb xmm0,xmm0,[eax]" },
	{ P16, "c5 f8 77",                   3, "vzeroupper" },
	/* EVEX */
	{ L64, "62 f1 7c 48 58 c1",          6, "vaddps zmm0,zmm0,zmm1" },
	{ L64, "62 f1 fd 48 6f 05 00 00 00 00", 10, "vmovdqa64 zmm0,[rip]" },
	{ L64, "62 f3 fd 48 00 c1 1b",       7, "vpermq zmm0,zmm1,0x1b" },
	{ L64, "62 f1 7c 48 10 40 01",       7, "vmovups zmm0,[rax+64] (disp8*N)" },
	{ L64, "62 f1 7d 48 70 c1 1b",       7, "vpshufd zmm0,zmm1,0x1b" },
	{ P32, "62 f1 7c 48 58 c1",          6, "vaddps zmm0,zmm0,zmm1" },

	/* invalid in 64-bit mode */
	{ L64, "06", -1, "push es" },      { L64, "07", -1, "pop es" },
	{ L64, "0e", -1, "push cs" },      { L64, "16", -1, "push ss" },
	{ L64, "17", -1, "pop ss" },       { L64, "1e", -1, "push ds" },
	{ L64, "1f", -1, "pop ds" },       { L64, "27", -1, "daa" },
	{ L64, "2f", -1, "das" },          { L64, "37", -1, "aaa" },
	{ L64, "3f", -1, "aas" },          { L64, "60", -1, "pusha" },
	{ L64, "61", -1, "popa" },         { L64, "82 c0 01", -1, "82 alias" },
	{ L64, "9a 78 56 34 12 00 10", -1, "call far ptr" },
	{ L64, "ce", -1, "into" },         { L64, "d4 0a", -1, "aam" },
	{ L64, "d5 0a", -1, "aad" },       { L64, "d6", -1, "salc" },
	{ L64, "ea 78 56 34 12 00 10", -1, "jmp far ptr" },
	/* undefined everywhere */
	{ L64, "0f 04", -1, "0f 04" },     { P32, "0f 0a", -1, "0f 0a" },
	{ L64, "0f 0c", -1, "0f 0c" },     { P32, "0f 24 c0", -1, "mov r,tr (386)" },
	{ L64, "0f 26 c0", -1, "mov tr,r" }, { L64, "0f 36", -1, "0f 36" },
	{ L64, "0f 39", -1, "0f 39" },     { L64, "0f 3b", -1, "0f 3b" },
	{ L64, "0f 7a 00", -1, "0f 7a" },  { R16, "0f a6 00", -1, "0f a6 (486 cmpxchg)" },
	{ L64, "0f a7 00", -1, "0f a7" },
	{ L64, "fe 10", -1, "fe /2" },     { L64, "fe f8", -1, "fe /7" },
	{ L64, "ff 38", -1, "ff /7" },     { L64, "c6 08 00", -1, "c6 /1" },
	{ L64, "c7 10 00 00 00 00", -1, "c7 /2" },
	{ L64, "c7 f9 00 00 00 00", -1, "c7 /7 with rm != 0" },
	{ L64, "8f 08", -1, "8f /1 (XOP)" }, { P32, "8f e8 78 c0 c1 00", -1, "XOP vprotb" },
	{ L64, "8c 30", -1, "mov [rax],sreg6" }, { L64, "8e 08", -1, "mov cs,[rax]" },
	{ L64, "8e f8", -1, "mov sreg7,ax" },
	{ L64, "f3 0f 78 c0", -1, "f3 0f 78" },
	/* VEX / EVEX misuse */
	{ R16, "c5 f8 77", -1, "VEX in real mode" },
	{ R16, "c4 c0", -1, "les ax,register / VEX in real mode" },
	{ L64, "66 c5 f8 77", -1, "66 before VEX" },
	{ L64, "f3 c5 f8 77", -1, "f3 before VEX" },
	{ L64, "f2 c4 e2 79 00 c1", -1, "f2 before VEX" },
	{ L64, "f0 c5 f8 77", -1, "lock before VEX" },
	{ L64, "48 c5 f8 77", -1, "REX before VEX" },
	{ L64, "c4 e0 78 77", -1, "VEX map 0" },
	{ L64, "c4 e4 78 10 c0", -1, "VEX map 4" },
	{ L64, "62 f9 7c 48 58 c1", -1, "EVEX P0 bit 3 set" },
	{ L64, "62 f1 78 48 58 c1", -1, "EVEX P1 bit 2 clear" },
	{ L64, "62 f4 7c 48 58 c1", -1, "EVEX map 4" },
	{ L64, "66 62 f1 7c 48 58 c1", -1, "66 before EVEX" },
	{ P32, "62 f1 7c 48 58 c1", 6, "EVEX in 32-bit mode" },
	{ R16, "62 f1 7c 48 58 c1", -1, "EVEX in real mode" },
};

static void test_lengths(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(len_cases) / sizeof(len_cases[0]); i++) {
		const struct len_case *t = &len_cases[i];
		struct x86_insn in;
		int r = dec(t->mode, t->bytes, &in);
		int got = r == X86_DECODE_OK ? in.len : r;

		if (got != t->len)
			fail_msg("%s [%s] mode %d: got %d, want %d", t->what, t->bytes, t->mode, got, t->len);
	}
}

/* Every instruction of the table decodes to the same thing with trailing
 * bytes after it, and to TRUNCATED at each shorter length. */
static void test_truncation_every_cut(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(len_cases) / sizeof(len_cases[0]); i++) {
		const struct len_case *t = &len_cases[i];
		uint8_t b[32];
		size_t n = hex(t->bytes, b, sizeof(b));
		struct x86_insn in;

		if (t->len < 0)
			continue;
		assert_int_equal(n, (size_t)t->len);
		memset(b + n, 0xcc, sizeof(b) - n);
		assert_int_equal(x86_decode(b, sizeof(b), t->mode, &in), 0);
		assert_int_equal(in.len, t->len);
		for (size_t k = 0; k < n; k++) {
			int r = x86_decode(b, k, t->mode, &in);
			if (r != X86_DECODE_TRUNCATED)
				fail_msg("%s cut at %zu: got %d", t->what, k, r);
		}
	}
}

/* The longest legal instruction: 15 bytes. */
static const char long15[] = "64 67 f0 48 81 84 c8 00 01 00 00 78 56 34 12";

static void test_15_byte_limit(void **state)
{
	(void)state;
	struct x86_insn in;
	uint8_t b[32];
	size_t n;

	/* lock add qword fs:[eax+ecx*8+0x100], 0x12345678 */
	assert_int_equal(dec(L64, long15, &in), 0);
	assert_int_equal(in.len, 15);
	assert_true(in.prefixes & X86_PFX_LOCK);
	assert_int_equal(in.seg, X86_SEG_FS);
	assert_int_equal(in.addrsize, 4);
	assert_int_equal(in.opsize, 8);
	assert_int_equal(in.imm, 0x12345678);
	for (size_t k = 0; k < 15; k++) {
		n = hex(long15, b, sizeof(b));
		assert_int_equal(x86_decode(b, k, L64, &in), X86_DECODE_TRUNCATED);
	}

	/* One more prefix makes it 16 bytes: invalid however many bytes are given. */
	b[0] = 0x65;
	n = hex(long15, b + 1, sizeof(b) - 1) + 1;
	assert_int_equal(x86_decode(b, n, L64, &in), X86_DECODE_INVALID);
	assert_int_equal(x86_decode(b, 15, L64, &in), X86_DECODE_INVALID);
	/* With the displacement in hand (12 bytes), the 4-byte immediate can't
	 * fit in 15: invalid already; one byte less and it can't be told yet. */
	assert_int_equal(x86_decode(b, 12, L64, &in), X86_DECODE_INVALID);
	assert_int_equal(x86_decode(b, 11, L64, &in), X86_DECODE_TRUNCATED);

	/* 14 prefixes + NOP = 15: fine; 15 prefixes + NOP: too long. */
	memset(b, 0x66, sizeof(b));
	b[14] = 0x90;
	assert_int_equal(x86_decode(b, 15, L64, &in), 0);
	assert_int_equal(in.len, 15);
	b[14] = 0x66;
	b[15] = 0x90;
	assert_int_equal(x86_decode(b, 16, L64, &in), X86_DECODE_INVALID);
	/* 16 bytes of prefixes: invalid; 10 of them: can't tell yet. */
	memset(b, 0x2e, 16);
	assert_int_equal(x86_decode(b, 16, P32, &in), X86_DECODE_INVALID);
	assert_int_equal(x86_decode(b, 15, P32, &in), X86_DECODE_INVALID);
	assert_int_equal(x86_decode(b, 10, P32, &in), X86_DECODE_TRUNCATED);
	/* mov rax,imm64 behind 6 prefixes is 16 bytes */
	assert_int_equal(dec(L64, "2e 2e 2e 2e 2e 2e 48 b8 88 77 66 55 44 33 22 11", &in),
			 X86_DECODE_INVALID);
	assert_int_equal(dec(L64, "2e 2e 2e 2e 2e 48 b8 88 77 66 55 44 33 22 11", &in), 0);
}

static void test_truncated_misc(void **state)
{
	(void)state;
	struct x86_insn in;
	uint8_t b[1] = { 0x90 };

	assert_int_equal(x86_decode(b, 0, L64, &in), X86_DECODE_TRUNCATED);
	assert_int_equal(dec(L64, "0f", &in), X86_DECODE_TRUNCATED);
	assert_int_equal(dec(L64, "0f 38", &in), X86_DECODE_TRUNCATED);
	assert_int_equal(dec(L64, "66 48", &in), X86_DECODE_TRUNCATED);
	assert_int_equal(dec(L64, "c5", &in), X86_DECODE_TRUNCATED);
	assert_int_equal(dec(L64, "62 f1 7c", &in), X86_DECODE_TRUNCATED);
	assert_int_equal(dec(P32, "c4", &in), X86_DECODE_TRUNCATED);   /* LES or VEX? */
	assert_int_equal(dec(L64, "f7", &in), X86_DECODE_TRUNCATED);
	assert_int_equal(dec(L64, "f7 c1 00", &in), X86_DECODE_TRUNCATED);
	assert_int_equal(dec(L64, "c6 08", &in), X86_DECODE_INVALID);  /* invalid as soon as ModRM is seen */
	assert_int_equal(x86_decode(b, 1, (enum x86_mode)7, &in), X86_DECODE_INVALID);
}

/* ---- decoded fields ---- */

static void test_fields_modrm64(void **state)
{
	(void)state;
	struct x86_insn in;

	assert_int_equal(dec(L64, "8b 44 8d f0", &in), 0);   /* mov eax,[rbp+rcx*4-16] */
	assert_int_equal(in.opcode, 0x8b);
	assert_true(in.has_modrm && in.mem && !in.rip_relative);
	assert_int_equal(in.reg, X86_RAX);
	assert_int_equal(in.base_reg, X86_RBP);
	assert_int_equal(in.index_reg, X86_RCX);
	assert_int_equal(in.scale, 4);
	assert_int_equal(in.disp, -16);
	assert_int_equal(in.rm_reg, -1);
	assert_int_equal(in.opsize, 4);
	assert_int_equal(in.addrsize, 8);

	assert_int_equal(dec(L64, "4f 8b 8c e5 00 f0 ff ff", &in), 0);  /* mov r9,[r13+r12*8-0x1000] */
	assert_int_equal(in.rex, 0x4f);
	assert_int_equal(in.reg, X86_R9);
	assert_int_equal(in.base_reg, X86_R13);
	assert_int_equal(in.index_reg, X86_R12);
	assert_int_equal(in.scale, 8);
	assert_int_equal(in.disp, -0x1000);
	assert_int_equal(in.opsize, 8);

	assert_int_equal(dec(L64, "8b 05 f0 ff ff ff", &in), 0);  /* mov eax,[rip-16] */
	assert_true(in.rip_relative);
	assert_int_equal(in.base_reg, -1);
	assert_int_equal(in.index_reg, -1);
	assert_int_equal(in.disp, -16);

	assert_int_equal(dec(L64, "8b 04 25 00 10 00 00", &in), 0);  /* mov eax,[0x1000] */
	assert_false(in.rip_relative);
	assert_int_equal(in.base_reg, -1);
	assert_int_equal(in.index_reg, -1);
	assert_int_equal(in.disp, 0x1000);

	assert_int_equal(dec(L64, "4d 8b c8", &in), 0);   /* mov r9,r8 */
	assert_false(in.mem);
	assert_int_equal(in.reg, X86_R9);
	assert_int_equal(in.rm_reg, X86_R8);

	assert_int_equal(dec(L64, "44 0f 22 c3", &in), 0);  /* mov cr8,rbx */
	assert_int_equal(in.opcode, X86_OP_0F(0x22));
	assert_int_equal(in.reg, 8);
	assert_int_equal(in.rm_reg, X86_RBX);
	assert_int_equal(in.opsize, 8);
	assert_false(in.mem);
	assert_int_equal(dec(P32, "0f 20 18", &in), 0);     /* mov eax,cr3 with mod=00 */
	assert_int_equal(in.rm_reg, X86_RAX);
	assert_int_equal(in.reg, 3);
	assert_int_equal(in.opsize, 4);
	assert_false(in.mem);

	assert_int_equal(dec(L64, "0f 01 d8", &in), 0);
	assert_int_equal(in.opcode, X86_OP_0F(0x01));
	assert_int_equal(in.modrm, 0xd8);
}

static void test_fields_modrm16(void **state)
{
	(void)state;
	struct x86_insn in;
	static const struct { const char *bytes; int8_t base, index; int64_t disp; } t[] = {
		{ "8b 00",       X86_RBX, X86_RSI, 0 },
		{ "8b 01",       X86_RBX, X86_RDI, 0 },
		{ "8b 42 05",    X86_RBP, X86_RSI, 5 },
		{ "8b 43 fb",    X86_RBP, X86_RDI, -5 },
		{ "8b 84 00 80", X86_RSI, -1, -0x8000 },
		{ "8b 05",       X86_RDI, -1, 0 },
		{ "8b 06 34 12", -1, -1, 0x1234 },
		{ "8b 46 00",    X86_RBP, -1, 0 },
		{ "8b 07",       X86_RBX, -1, 0 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(dec(R16, t[i].bytes, &in), 0);
		assert_true(in.mem);
		assert_int_equal(in.addrsize, 2);
		assert_int_equal(in.opsize, 2);
		assert_int_equal(in.base_reg, t[i].base);
		assert_int_equal(in.index_reg, t[i].index);
		assert_int_equal(in.scale, 1);
		assert_int_equal(in.disp, t[i].disp);
	}
	/* 66/67 flip the sizes in 16-bit code, and flip them back in 32-bit code */
	assert_int_equal(dec(R16, "66 67 8b 00", &in), 0);
	assert_int_equal(in.opsize, 4);
	assert_int_equal(in.addrsize, 4);
	assert_int_equal(in.base_reg, X86_RAX);
	assert_int_equal(dec(P32, "66 67 8b 00", &in), 0);
	assert_int_equal(in.opsize, 2);
	assert_int_equal(in.addrsize, 2);
	assert_int_equal(in.base_reg, X86_RBX);
	assert_int_equal(in.index_reg, X86_RSI);
}

static void test_fields_prefixes(void **state)
{
	(void)state;
	struct x86_insn in;

	assert_int_equal(dec(L64, "64 2e 8b 00", &in), 0);  /* CS ignored in 64-bit mode: FS stays */
	assert_int_equal(in.seg, X86_SEG_FS);
	assert_true(in.prefixes & X86_PFX_SEG);
	assert_int_equal(dec(L64, "3e 8b 00", &in), 0);
	assert_int_equal(in.seg, -1);
	assert_int_equal(dec(P32, "64 2e 8b 00", &in), 0);  /* outside 64-bit mode the last wins */
	assert_int_equal(in.seg, X86_SEG_CS);
	assert_int_equal(dec(R16, "26 8b 00", &in), 0);
	assert_int_equal(in.seg, X86_SEG_ES);
	assert_int_equal(dec(R16, "36 8b 00", &in), 0);
	assert_int_equal(in.seg, X86_SEG_SS);
	assert_int_equal(dec(R16, "65 8b 00", &in), 0);
	assert_int_equal(in.seg, X86_SEG_GS);

	assert_int_equal(dec(L64, "f2 f3 a4", &in), 0);
	assert_int_equal(in.rep, 0xf3);
	assert_int_equal(in.prefixes & (X86_PFX_REP | X86_PFX_REPNE), X86_PFX_REP | X86_PFX_REPNE);
	assert_int_equal(dec(L64, "f3 f2 a6", &in), 0);
	assert_int_equal(in.rep, 0xf2);

	assert_int_equal(dec(L64, "48 66 8b 00", &in), 0);  /* REX not last: ignored */
	assert_int_equal(in.rex, 0);
	assert_int_equal(in.opsize, 2);
	assert_int_equal(dec(L64, "66 48 8b 00", &in), 0);  /* REX.W beats 66 */
	assert_int_equal(in.rex, 0x48);
	assert_int_equal(in.opsize, 8);
	assert_true(in.prefixes & X86_PFX_OPSIZE);

	/* d64 opcodes */
	assert_int_equal(dec(L64, "50", &in), 0);
	assert_int_equal(in.opsize, 8);
	assert_int_equal(dec(L64, "66 50", &in), 0);
	assert_int_equal(in.opsize, 2);
	assert_int_equal(dec(L64, "ff 30", &in), 0);
	assert_int_equal(in.opsize, 8);
	assert_int_equal(dec(L64, "ff 00", &in), 0);        /* inc dword [rax]: not d64 */
	assert_int_equal(in.opsize, 4);
	assert_int_equal(dec(P32, "50", &in), 0);
	assert_int_equal(in.opsize, 4);
	assert_int_equal(dec(L64, "88 00", &in), 0);
	assert_int_equal(in.opsize, 1);
}

static void test_fields_immediates(void **state)
{
	(void)state;
	struct x86_insn in;

	assert_int_equal(dec(L64, "83 c1 ff", &in), 0);
	assert_true(in.has_imm);
	assert_int_equal(in.imm, UINT64_MAX);                  /* Ib sign-extended */
	assert_int_equal(dec(L64, "80 c1 ff", &in), 0);
	assert_int_equal(in.imm, 0xff);
	assert_int_equal(dec(L64, "c1 e0 ff", &in), 0);         /* shift count: unsigned */
	assert_int_equal(in.imm, 0xff);
	assert_int_equal(dec(L64, "48 c7 c0 00 00 00 80", &in), 0);
	assert_int_equal(in.imm, 0xffffffff80000000ull);
	assert_int_equal(dec(L64, "66 b8 ff ff", &in), 0);
	assert_int_equal(in.imm, 0xffff);
	assert_int_equal(dec(L64, "b8 ff ff ff ff", &in), 0);
	assert_int_equal(in.imm, 0xffffffffu);
	assert_int_equal(dec(L64, "48 b8 88 77 66 55 44 33 22 f1", &in), 0);
	assert_int_equal(in.imm, 0xf122334455667788ull);
	assert_int_equal(dec(L64, "eb fe", &in), 0);
	assert_int_equal((int64_t)in.imm, -2);
	assert_int_equal(dec(L64, "e8 fb ff ff ff", &in), 0);
	assert_int_equal((int64_t)in.imm, -5);
	assert_int_equal(dec(R16, "e9 fd ff", &in), 0);
	assert_int_equal((int64_t)in.imm, -3);
	assert_int_equal(dec(L64, "c2 00 80", &in), 0);
	assert_int_equal(in.imm, 0x8000);
	assert_int_equal(dec(L64, "c8 10 00 01", &in), 0);
	assert_int_equal(in.imm, 16);
	assert_int_equal(in.imm2, 1);
	assert_int_equal(dec(R16, "ea 00 7c 00 f0", &in), 0);
	assert_int_equal(in.imm, 0x7c00);
	assert_int_equal(in.imm2, 0xf000);
	assert_int_equal(dec(P32, "9a 78 56 34 12 08 00", &in), 0);
	assert_int_equal(in.imm, 0x12345678);
	assert_int_equal(in.imm2, 8);
	assert_int_equal(dec(L64, "66 0f 78 c0 04 08", &in), 0);
	assert_int_equal(in.imm, 4);
	assert_int_equal(in.imm2, 8);
	assert_int_equal(dec(L64, "0f 0f c1 9e", &in), 0);     /* 3DNow! suffix */
	assert_int_equal(in.opcode, X86_OP_0F(0x0f));
	assert_int_equal(in.imm, 0x9e);
	assert_int_equal(dec(L64, "a1 88 77 66 55 44 33 22 f1", &in), 0);  /* moffs: disp, not imm */
	assert_false(in.has_imm);
	assert_true(in.mem);
	assert_int_equal((uint64_t)in.disp, 0xf122334455667788ull);
	assert_int_equal(dec(P32, "a1 00 00 00 f0", &in), 0);
	assert_int_equal(in.disp, 0xf0000000);                  /* zero-extended */
	assert_int_equal(dec(L64, "f6 d1", &in), 0);
	assert_false(in.has_imm);
}

static void test_fields_vex(void **state)
{
	(void)state;
	struct x86_insn in;

	assert_int_equal(dec(L64, "c4 41 7c 28 00", &in), 0);  /* vmovaps ymm8,[r8] */
	assert_int_equal(in.vex, 0xc4);
	assert_int_equal(in.opcode, X86_OP_0F(0x28));
	assert_int_equal(in.reg, 8);
	assert_int_equal(in.base_reg, X86_R8);
	assert_int_equal(in.rex, 0);
	assert_int_equal(dec(L64, "c4 e3 79 0f c1 08", &in), 0);
	assert_int_equal(in.opcode, X86_OP_0F3A(0x0f));
	assert_int_equal(in.imm, 8);
	assert_int_equal(dec(L64, "c5 78 28 c1", &in), 0);     /* vmovaps xmm8,xmm1 */
	assert_int_equal(in.vex, 0xc5);
	assert_int_equal(in.reg, 8);
	assert_int_equal(in.rm_reg, 1);
	assert_int_equal(dec(L64, "c5 f8 77", &in), 0);
	assert_false(in.has_modrm);
	assert_int_equal(dec(L64, "62 f1 7c 48 10 40 01", &in), 0);
	assert_int_equal(in.vex, 0x62);
	assert_int_equal(in.disp, 1);                           /* raw disp8, not scaled by N */
	assert_int_equal(dec(L64, "62 f5 7c 48 58 c1", &in), 0);  /* vaddph, EVEX map 5 */
	assert_int_equal(in.opcode, 0x0f0558);
	assert_int_equal(dec(L64, "c4 e2 f0 f2 c2", &in), 0);  /* andn rax,rcx,rdx: VEX.W */
	assert_int_equal(in.opsize, 8);
	assert_int_equal(dec(P32, "c4 00", &in), 0);            /* LES in 32-bit mode */
	assert_int_equal(in.vex, 0);
	assert_int_equal(in.opcode, 0xc4);
}

/* ---- MMIO ---- */

struct mmio_case {
	enum x86_mode mode;
	const char *bytes;
	enum mmio_op op;
	uint8_t size, dst_size;
	int8_t reg;
	bool high8;
	uint64_t imm;
	bool rep;
	int8_t seg;
	const char *what;
};

#define ES X86_SEG_ES
#define SS X86_SEG_SS
#define DS X86_SEG_DS
#define FS X86_SEG_FS
#define GS X86_SEG_GS

static const struct mmio_case mmio_cases[] = {
	/* 88: MOV Eb,Gb */
	{ L64, "88 08",          MMIO_STORE, 1, 1, 1, false, 0, false, DS, "mov [rax],cl" },
	{ L64, "88 20",          MMIO_STORE, 1, 1, 0, true,  0, false, DS, "mov [rax],ah" },
	{ L64, "88 38",          MMIO_STORE, 1, 1, 3, true,  0, false, DS, "mov [rax],bh" },
	{ L64, "40 88 20",       MMIO_STORE, 1, 1, 4, false, 0, false, DS, "mov [rax],spl" },
	{ L64, "40 88 38",       MMIO_STORE, 1, 1, 7, false, 0, false, DS, "mov [rax],dil" },
	{ L64, "44 88 20",       MMIO_STORE, 1, 1, 12, false, 0, false, DS, "mov [rax],r12b" },
	{ P32, "88 30",          MMIO_STORE, 1, 1, 2, true,  0, false, DS, "mov [eax],dh" },
	{ R16, "88 07",          MMIO_STORE, 1, 1, 0, false, 0, false, DS, "mov [bx],al" },
	/* 89: MOV Ev,Gv */
	{ L64, "66 89 08",       MMIO_STORE, 2, 2, 1, false, 0, false, DS, "mov [rax],cx" },
	{ L64, "89 08",          MMIO_STORE, 4, 4, 1, false, 0, false, DS, "mov [rax],ecx" },
	{ L64, "48 89 08",       MMIO_STORE, 8, 8, 1, false, 0, false, DS, "mov [rax],rcx" },
	{ L64, "4d 89 0c 24",    MMIO_STORE, 8, 8, 9, false, 0, false, DS, "mov [r12],r9 (r12 is not rsp)" },
	{ L64, "89 20",          MMIO_STORE, 4, 4, 4, false, 0, false, DS, "mov [rax],esp (no high8 for 89)" },
	{ R16, "89 07",          MMIO_STORE, 2, 2, 0, false, 0, false, DS, "mov [bx],ax" },
	{ R16, "66 89 07",       MMIO_STORE, 4, 4, 0, false, 0, false, DS, "mov [bx],eax" },
	{ P32, "89 0d 00 00 e0 fe", MMIO_STORE, 4, 4, 1, false, 0, false, DS, "mov [0xfee00000],ecx" },
	/* 8A, 8B: loads */
	{ L64, "8a 08",          MMIO_LOAD, 1, 1, 1, false, 0, false, DS, "mov cl,[rax]" },
	{ L64, "8a 30",          MMIO_LOAD, 1, 1, 2, true,  0, false, DS, "mov dh,[rax]" },
	{ L64, "40 8a 30",       MMIO_LOAD, 1, 1, 6, false, 0, false, DS, "mov sil,[rax]" },
	{ L64, "66 8b 08",       MMIO_LOAD, 2, 2, 1, false, 0, false, DS, "mov cx,[rax]" },
	{ L64, "8b 08",          MMIO_LOAD, 4, 4, 1, false, 0, false, DS, "mov ecx,[rax]" },
	{ L64, "48 8b 08",       MMIO_LOAD, 8, 8, 1, false, 0, false, DS, "mov rcx,[rax]" },
	{ L64, "4c 8b 3d 00 10 00 00", MMIO_LOAD, 8, 8, 15, false, 0, false, DS, "mov r15,[rip+0x1000]" },
	{ R16, "8b 46 02",       MMIO_LOAD, 2, 2, 0, false, 0, false, SS, "mov ax,[bp+2]" },
	/* C6 /0, C7 /0: immediate stores */
	{ L64, "c6 00 ab",       MMIO_STORE, 1, 1, -1, false, 0xab, false, DS, "mov byte [rax],0xab" },
	{ L64, "66 c7 00 34 92", MMIO_STORE, 2, 2, -1, false, 0x9234, false, DS, "mov word [rax],0x9234" },
	{ L64, "c7 00 78 56 34 92", MMIO_STORE, 4, 4, -1, false, 0x92345678, false, DS, "mov dword [rax],0x92345678" },
	{ L64, "48 c7 00 78 56 34 92", MMIO_STORE, 8, 8, -1, false, 0xffffffff92345678ull, false, DS, "mov qword [rax],-0x6dcba988" },
	{ L64, "48 c7 00 78 56 34 12", MMIO_STORE, 8, 8, -1, false, 0x12345678, false, DS, "mov qword [rax],0x12345678" },
	{ R16, "c7 06 34 12 cd ab", MMIO_STORE, 2, 2, -1, false, 0xabcd, false, DS, "mov word [0x1234],0xabcd" },
	{ R16, "66 c7 06 34 12 78 56 34 12", MMIO_STORE, 4, 4, -1, false, 0x12345678, false, DS, "mov dword [0x1234],imm32" },
	/* A0-A3: moffs */
	{ L64, "a0 00 00 e0 fe 00 00 00 00", MMIO_LOAD, 1, 1, 0, false, 0, false, DS, "mov al,[moffs64]" },
	{ L64, "66 a1 00 00 e0 fe 00 00 00 00", MMIO_LOAD, 2, 2, 0, false, 0, false, DS, "mov ax,[moffs64]" },
	{ L64, "a1 00 00 e0 fe 00 00 00 00", MMIO_LOAD, 4, 4, 0, false, 0, false, DS, "mov eax,[moffs64]" },
	{ L64, "48 a1 00 00 e0 fe 00 00 00 00", MMIO_LOAD, 8, 8, 0, false, 0, false, DS, "mov rax,[moffs64]" },
	{ L64, "a2 00 00 e0 fe 00 00 00 00", MMIO_STORE, 1, 1, 0, false, 0, false, DS, "mov [moffs64],al" },
	{ L64, "48 a3 00 00 e0 fe 00 00 00 00", MMIO_STORE, 8, 8, 0, false, 0, false, DS, "mov [moffs64],rax" },
	{ P32, "a3 00 00 e0 fe", MMIO_STORE, 4, 4, 0, false, 0, false, DS, "mov [moffs32],eax" },
	{ P32, "64 a3 00 00 e0 fe", MMIO_STORE, 4, 4, 0, false, 0, false, FS, "mov fs:[moffs32],eax" },
	{ R16, "a1 00 10",       MMIO_LOAD, 2, 2, 0, false, 0, false, DS, "mov ax,[0x1000]" },
	/* MOVZX, MOVSX, MOVSXD */
	{ L64, "0f b6 08",       MMIO_LOAD_ZX, 1, 4, 1, false, 0, false, DS, "movzx ecx,byte [rax]" },
	{ L64, "66 0f b6 08",    MMIO_LOAD_ZX, 1, 2, 1, false, 0, false, DS, "movzx cx,byte [rax]" },
	{ L64, "48 0f b6 08",    MMIO_LOAD_ZX, 1, 8, 1, false, 0, false, DS, "movzx rcx,byte [rax]" },
	{ L64, "0f b6 20",       MMIO_LOAD_ZX, 1, 4, 4, false, 0, false, DS, "movzx esp,byte [rax] (no high8)" },
	{ L64, "0f b7 08",       MMIO_LOAD_ZX, 2, 4, 1, false, 0, false, DS, "movzx ecx,word [rax]" },
	{ L64, "48 0f b7 08",    MMIO_LOAD_ZX, 2, 8, 1, false, 0, false, DS, "movzx rcx,word [rax]" },
	{ L64, "0f be 08",       MMIO_LOAD_SX, 1, 4, 1, false, 0, false, DS, "movsx ecx,byte [rax]" },
	{ L64, "66 0f be 08",    MMIO_LOAD_SX, 1, 2, 1, false, 0, false, DS, "movsx cx,byte [rax]" },
	{ L64, "48 0f be 08",    MMIO_LOAD_SX, 1, 8, 1, false, 0, false, DS, "movsx rcx,byte [rax]" },
	{ L64, "0f bf 08",       MMIO_LOAD_SX, 2, 4, 1, false, 0, false, DS, "movsx ecx,word [rax]" },
	{ L64, "4c 0f bf 08",    MMIO_LOAD_SX, 2, 8, 9, false, 0, false, DS, "movsx r9,word [rax]" },
	{ R16, "0f b6 07",       MMIO_LOAD_ZX, 1, 2, 0, false, 0, false, DS, "movzx ax,byte [bx]" },
	{ L64, "48 63 08",       MMIO_LOAD_SX, 4, 8, 1, false, 0, false, DS, "movsxd rcx,dword [rax]" },
	{ L64, "63 08",          MMIO_LOAD, 4, 4, 1, false, 0, false, DS, "movsxd ecx,dword [rax] (no REX.W)" },
	/* STOS, MOVS */
	{ L64, "aa",             MMIO_STOS, 1, 1, 0, false, 0, false, ES, "stosb" },
	{ L64, "66 ab",          MMIO_STOS, 2, 2, 0, false, 0, false, ES, "stosw" },
	{ L64, "f3 ab",          MMIO_STOS, 4, 4, 0, false, 0, true,  ES, "rep stosd" },
	{ L64, "f3 48 ab",       MMIO_STOS, 8, 8, 0, false, 0, true,  ES, "rep stosq" },
	{ L64, "64 f3 aa",       MMIO_STOS, 1, 1, 0, false, 0, true,  ES, "rep stosb (override ignored)" },
	{ R16, "f3 ab",          MMIO_STOS, 2, 2, 0, false, 0, true,  ES, "rep stosw" },
	{ L64, "a4",             MMIO_MOVS, 1, 1, -1, false, 0, false, DS, "movsb" },
	{ L64, "66 a5",          MMIO_MOVS, 2, 2, -1, false, 0, false, DS, "movsw" },
	{ L64, "f3 a5",          MMIO_MOVS, 4, 4, -1, false, 0, true,  DS, "rep movsd" },
	{ L64, "f3 48 a5",       MMIO_MOVS, 8, 8, -1, false, 0, true,  DS, "rep movsq" },
	{ L64, "64 f3 a4",       MMIO_MOVS, 1, 1, -1, false, 0, true,  FS, "rep movsb fs:" },
	{ P32, "26 a5",          MMIO_MOVS, 4, 4, -1, false, 0, false, ES, "movsd es:" },
	/* segments */
	{ L64, "64 8b 00",       MMIO_LOAD, 4, 4, 0, false, 0, false, FS, "mov eax,fs:[rax]" },
	{ L64, "65 89 00",       MMIO_STORE, 4, 4, 0, false, 0, false, GS, "mov gs:[rax],eax" },
	{ L64, "26 8b 00",       MMIO_LOAD, 4, 4, 0, false, 0, false, DS, "es: ignored in 64-bit mode" },
	{ L64, "8b 45 00",       MMIO_LOAD, 4, 4, 0, false, 0, false, SS, "mov eax,[rbp]" },
	{ L64, "8b 04 24",       MMIO_LOAD, 4, 4, 0, false, 0, false, SS, "mov eax,[rsp]" },
	{ L64, "41 8b 45 00",    MMIO_LOAD, 4, 4, 0, false, 0, false, DS, "mov eax,[r13] (not rbp)" },
	{ L64, "8b 04 2c",       MMIO_LOAD, 4, 4, 0, false, 0, false, SS, "mov eax,[rsp+rbp]" },
	{ L64, "8b 04 6d 00 00 00 00", MMIO_LOAD, 4, 4, 0, false, 0, false, DS, "mov eax,[rbp*2] (no base)" },
	{ R16, "8b 02",          MMIO_LOAD, 2, 2, 0, false, 0, false, SS, "mov ax,[bp+si]" },
	{ R16, "26 8b 02",       MMIO_LOAD, 2, 2, 0, false, 0, false, ES, "mov ax,es:[bp+si]" },
};

static void test_mmio_forms(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(mmio_cases) / sizeof(mmio_cases[0]); i++) {
		const struct mmio_case *t = &mmio_cases[i];
		struct x86_insn in;
		struct mmio_access a;

		if (dec(t->mode, t->bytes, &in) != 0)
			fail_msg("%s: decode failed", t->what);
		if (x86_decode_mmio(&in, &a) != 0)
			fail_msg("%s: not an MMIO form", t->what);
		if (a.op != t->op || a.size != t->size || a.dst_size != t->dst_size ||
		    a.reg != t->reg || a.reg_high8 != t->high8 || a.imm != t->imm ||
		    a.rep != t->rep || a.seg != t->seg)
			fail_msg("%s: got op %d size %u dst %u reg %d high8 %d imm %#llx rep %d seg %d",
				 t->what, a.op, a.size, a.dst_size, a.reg, a.reg_high8,
				 (unsigned long long)a.imm, a.rep, a.seg);
	}
}

static void test_mmio_rejects(void **state)
{
	(void)state;
	static const struct { enum x86_mode mode; const char *bytes; } t[] = {
		{ L64, "89 c8" },              /* mov eax,ecx: no memory */
		{ L64, "8b c1" },
		{ L64, "8a e0" },              /* mov ah,al */
		{ L64, "c7 c0 01 00 00 00" },  /* mov eax,1 */
		{ L64, "c6 c0 01" },
		{ L64, "0f b6 c1" },           /* movzx eax,cl */
		{ L64, "48 63 c1" },           /* movsxd rax,ecx */
		{ P32, "63 08" },              /* arpl [eax],cx */
		{ L64, "f0 89 08" },           /* lock mov: #UD */
		{ L64, "f0 a4" },
		{ L64, "c7 f8 00 00 00 00" },  /* xbegin */
		{ L64, "c6 f8 01" },           /* xabort */
		{ L64, "01 08" },              /* add [rax],ecx: not emulated */
		{ L64, "87 08" },              /* xchg */
		{ L64, "ac" },                 /* lods */
		{ L64, "ae" },                 /* scas */
		{ L64, "a6" },                 /* cmps */
		{ L64, "8d 00" },              /* lea */
		{ L64, "ff 30" },              /* push [rax] */
		{ L64, "c5 f9 6f 01" },        /* vmovdqa: VEX */
		{ L64, "0f 28 00" },           /* movaps */
		{ L64, "90" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct x86_insn in;
		struct mmio_access a;

		assert_int_equal(dec(t[i].mode, t[i].bytes, &in), 0);
		if (x86_decode_mmio(&in, &a) != -1)
			fail_msg("[%s] accepted as MMIO", t[i].bytes);
	}
}

static void test_mmio_values(void **state)
{
	(void)state;
	struct x86_insn in;
	struct mmio_access a;
	const uint64_t old = 0xaaaaaaaaaaaaaaaaull;

	/* stores */
	assert_int_equal(dec(L64, "88 20", &in), 0);      /* mov [rax],ah */
	assert_int_equal(x86_decode_mmio(&in, &a), 0);
	assert_int_equal(x86_mmio_store_value(&a, 0x123456789abcdef0ull), 0xde);
	assert_int_equal(dec(L64, "66 89 08", &in), 0);
	assert_int_equal(x86_decode_mmio(&in, &a), 0);
	assert_int_equal(x86_mmio_store_value(&a, 0x123456789abcdef0ull), 0xdef0);
	assert_int_equal(dec(L64, "48 89 08", &in), 0);
	assert_int_equal(x86_decode_mmio(&in, &a), 0);
	assert_int_equal(x86_mmio_store_value(&a, 0x123456789abcdef0ull), 0x123456789abcdef0ull);
	assert_int_equal(dec(L64, "48 c7 00 ff ff ff ff", &in), 0);
	assert_int_equal(x86_decode_mmio(&in, &a), 0);
	assert_int_equal(x86_mmio_store_value(&a, 0), UINT64_MAX);
	assert_int_equal(dec(L64, "aa", &in), 0);         /* stosb stores al */
	assert_int_equal(x86_decode_mmio(&in, &a), 0);
	assert_int_equal(x86_mmio_store_value(&a, 0x1234), 0x34);

	/* loads: merge rules */
	assert_int_equal(dec(L64, "8a 08", &in), 0);      /* mov cl,[rax] */
	assert_int_equal(x86_decode_mmio(&in, &a), 0);
	assert_int_equal(x86_mmio_load_result(&a, old, 0x1234), 0xaaaaaaaaaaaaaa34ull);
	assert_int_equal(dec(L64, "8a 30", &in), 0);      /* mov dh,[rax] */
	assert_int_equal(x86_decode_mmio(&in, &a), 0);
	assert_int_equal(x86_mmio_load_result(&a, old, 0x1234), 0xaaaaaaaaaaaa34aaull);
	assert_int_equal(dec(L64, "66 8b 08", &in), 0);
	assert_int_equal(x86_decode_mmio(&in, &a), 0);
	assert_int_equal(x86_mmio_load_result(&a, old, 0x12345678), 0xaaaaaaaaaaaa5678ull);
	assert_int_equal(dec(L64, "8b 08", &in), 0);      /* 32-bit writes zero-extend */
	assert_int_equal(x86_decode_mmio(&in, &a), 0);
	assert_int_equal(x86_mmio_load_result(&a, old, 0xf2345678abcdull), 0x2345678abcdull & 0xffffffff);
	assert_int_equal(dec(L64, "48 8b 08", &in), 0);
	assert_int_equal(x86_decode_mmio(&in, &a), 0);
	assert_int_equal(x86_mmio_load_result(&a, old, 0x1122334455667788ull), 0x1122334455667788ull);

	/* ZX / SX */
	assert_int_equal(dec(L64, "48 0f b6 08", &in), 0);
	assert_int_equal(x86_decode_mmio(&in, &a), 0);
	assert_int_equal(x86_mmio_load_result(&a, old, 0xff80), 0x80);
	assert_int_equal(dec(L64, "0f be 08", &in), 0);   /* movsx ecx,byte: 0xffffff80, upper zeroed */
	assert_int_equal(x86_decode_mmio(&in, &a), 0);
	assert_int_equal(x86_mmio_load_result(&a, old, 0x80), 0xffffff80ull);
	assert_int_equal(dec(L64, "66 0f be 08", &in), 0);  /* movsx cx,byte: merges */
	assert_int_equal(x86_decode_mmio(&in, &a), 0);
	assert_int_equal(x86_mmio_load_result(&a, old, 0x80), 0xaaaaaaaaaaaaff80ull);
	assert_int_equal(dec(L64, "48 0f bf 08", &in), 0);
	assert_int_equal(x86_decode_mmio(&in, &a), 0);
	assert_int_equal(x86_mmio_load_result(&a, old, 0x8000), 0xffffffffffff8000ull);
	assert_int_equal(x86_mmio_load_result(&a, old, 0x7fff), 0x7fff);
	assert_int_equal(dec(L64, "48 63 08", &in), 0);
	assert_int_equal(x86_decode_mmio(&in, &a), 0);
	assert_int_equal(x86_mmio_load_result(&a, old, 0x80000000), 0xffffffff80000000ull);
	assert_int_equal(dec(L64, "0f b7 08", &in), 0);
	assert_int_equal(x86_decode_mmio(&in, &a), 0);
	assert_int_equal(x86_mmio_load_result(&a, old, 0xffff8000), 0x8000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_truncation_every_cut),
		cmocka_unit_test(test_15_byte_limit),
		cmocka_unit_test(test_truncated_misc),
		cmocka_unit_test(test_fields_modrm64),
		cmocka_unit_test(test_fields_modrm16),
		cmocka_unit_test(test_fields_prefixes),
		cmocka_unit_test(test_fields_immediates),
		cmocka_unit_test(test_fields_vex),
		cmocka_unit_test(test_mmio_forms),
		cmocka_unit_test(test_mmio_rejects),
		cmocka_unit_test(test_mmio_values),
	};
	return cmocka_run_group_tests_name("decode", tests, NULL, NULL);
}
