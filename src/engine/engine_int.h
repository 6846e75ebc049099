/*
 * Every engine header in one include, for code outside the engine (tests).
 * Engine files include the headers of the modules they use instead, so that
 * the include graph is the dependency graph (tools/check_layers.py checks
 * both, and that no engine file includes this one).
 */
#ifndef TOFUI_ENGINE_INT_H
#define TOFUI_ENGINE_INT_H

#include "engine/channel.h"
#include "engine/chantab.h"
#include "engine/engine.h"
#include "engine/group.h"
#include "engine/resolve.h"
#include "engine/submit.h"
#include "engine/timers.h"
#include "msg/headers.h"
#include "msg/msg.h"
#include "msg/pool.h"
#include "msg/wire.h"
#include "util/list.h"

#endif
