#pragma once
#include <napi.h>

namespace stele {
Napi::Function TransportClass(Napi::Env env);
}
