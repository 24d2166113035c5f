package llm

// EmbedRequest asks for one vector per input text.
type EmbedRequest struct {
	// Model is the name the caller asked for; the executor replaces it with
	// the deployment's upstream name.
	Model string   `json:"model"`
	Input []string `json:"input"`
	// Dimensions asks models that support it for shorter vectors; 0 means
	// the model's default.
	Dimensions int    `json:"dimensions,omitempty"`
	User       string `json:"user,omitempty"`
}

// EmbedResponse holds the vectors in input order.
type EmbedResponse struct {
	Model   string      `json:"model"`
	Vectors [][]float32 `json:"vectors"`
	// Usage counts input tokens in PromptTokens (and TotalTokens).
	Usage Usage `json:"usage"`
}
