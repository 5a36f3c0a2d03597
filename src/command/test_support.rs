//! What the command module's tests share: hostile input sized to show that work stays bounded.

/// `unit` repeated a power-of-two number of times, as often as fits a megabyte when each copy
/// takes the power of two bytes at or above its length: between half a megabyte and a megabyte.
pub(super) fn megabyte_of(unit: &str) -> String {
    unit.repeat((1 << 20) / unit.len().next_power_of_two())
}
