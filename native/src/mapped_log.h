#pragma once
#include <napi.h>

namespace stele {
Napi::Function MappedLogClass(Napi::Env env);
}
