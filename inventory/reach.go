package inventory

// ReachEntry is one file the application can run or load: a program, an
// interpreter, a shared object, or one observed mapped into its processes.
type ReachEntry struct {
	// Path is where the file lies in the image, symlinks resolved.
	Path string `json:"path"`
	// Via says how the application reaches it.
	Via string `json:"via"`
	// Observed: seen mapped into, or executed by, the application's
	// processes while it ran, rather than resolved from its files.
	Observed bool `json:"observed,omitempty"`
}

// Reach is what the application can run and load.
type Reach struct {
	Entries []ReachEntry `json:"entries"`
	// Unresolved says what could not be followed (a library nowhere in the
	// library path, a command built at run time).
	Unresolved []string `json:"unresolved,omitempty"`
}
