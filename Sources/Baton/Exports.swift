// Baton's users need the Core vocabulary (Key, KeyValue, BatonError, LeaseID, TxnOp…) with one import.
@_exported import BatonCore
