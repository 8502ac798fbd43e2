// The two-tier fabrics moesim wires (fabric.h).
#include "hardware/fabric.h"

namespace moesim::hardware {

const FabricEntry& fabric_entry_rail_optimized() {
  static const FabricEntry entry{.name = "rail_optimized",
                                 .summary = "NIC i of every node on rail leaf i, leaves joined by spines (DGX SuperPOD style)"};
  return entry;
}

const FabricEntry& fabric_entry_fat_tree() {
  static const FabricEntry entry{
      .name = "fat_tree", .summary = "all NICs of a node on one top-of-rack leaf, leaves joined by spines", .top_of_rack = true};
  return entry;
}

const FabricEntry& fabric_entry_multi_plane() {
  static const FabricEntry entry{.name = "multi_plane",
                                 .summary = "every rail its own leaves and spines; cross-rail traffic forwarded over NVLink",
                                 .plane_per_rail = true};
  return entry;
}

}  // namespace moesim::hardware
