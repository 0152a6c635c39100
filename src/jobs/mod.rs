//! Background work: the INS inbox worker and the import scheduler. Jobs call `domain`.

pub mod inbox_worker;
pub mod scheduler;
