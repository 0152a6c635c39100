//! Background work: the INS inbox worker and the scheduler (imports, fulfillment export). Jobs call `domain`.

pub mod export;
pub mod inbox_worker;
pub mod scheduler;
