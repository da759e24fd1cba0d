/* A test-and-test-and-set spinlock; enough for a handful of CPUs. */
#ifndef NESTOR_SPINLOCK_H
#define NESTOR_SPINLOCK_H

struct spinlock { volatile int locked; };

static inline void spin_lock(struct spinlock *l)
{
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
			__asm__ volatile("pause");
}
static inline void spin_unlock(struct spinlock *l)
{
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}
#endif
