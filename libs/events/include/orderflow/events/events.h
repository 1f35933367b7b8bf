// Umbrella header of the events library: event types, parse/validate/serialise, identities and timestamps.
// See the individual headers for thread-safety and error reporting (all free functions are thread-safe).
#pragma once

#include "orderflow/events/clock.h"
#include "orderflow/events/codec.h"
#include "orderflow/events/identity.h"
#include "orderflow/events/types.h"
#include "orderflow/events/validation_error.h"
