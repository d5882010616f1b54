// sgd {momentum, nesterov}: SGD with momentum and weight decay, PyTorch's formulation (the
// cross-check against PyTorch relies on it), one velocity per parameter:
//   d = grad + weight_decay·w;  v = momentum·v + d;  w −= lr·(nesterov ? d + momentum·v : v)
#include "weft/plugin.h"
#include "weft/schema_helpers.h"

WEFT_PLUGIN("optimizer_sgd", "1.0") {
    using weft::schema::attribute;
    weft::OptimizerSchema schema;
    schema.name = "sgd";
    schema.doc = "SGD with momentum (Nesterov by default) and weight decay, PyTorch's formulation";
    weft::AttrSpec momentum = attribute("momentum", weft::AttrType::real, 0.9, "momentum coefficient", 0.0);
    momentum.max = 1.0;
    schema.attrs = {momentum, attribute("nesterov", weft::AttrType::boolean, true, "Nesterov momentum", std::nullopt)};
    schema.state = {"momentum"};
    registrar.add_optimizer(std::move(schema));
}
