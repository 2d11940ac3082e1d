/* Common includes for cmocka unit tests. */
#ifndef RDAGENT_UNIT_H
#define RDAGENT_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#endif
