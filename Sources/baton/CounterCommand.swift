/// `baton counter`: lands with the recipes.
func runCounter(_ arguments: [String]) async -> Int32 { 1 }
