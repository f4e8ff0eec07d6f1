package daemon

func crashChildMain() {}
