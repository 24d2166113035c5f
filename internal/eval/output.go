package eval

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// WriteDir writes rep to dir (created if missing): report.json, the PNG and
// SVG plots of quality against cost share and against strong-call share
// (and, for a route with a bandit, learning_curve and regret), and
// report.md linking them. It returns the files written.
func WriteDir(dir string, rep *Report) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var written []string
	write := func(name string, data []byte) error {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
		written = append(written, p)
		return nil
	}
	var js bytes.Buffer
	if err := WriteJSON(&js, rep); err != nil {
		return nil, err
	}
	if err := write("report.json", js.Bytes()); err != nil {
		return nil, err
	}
	images, err := writePlots(dir, rep)
	if err != nil {
		return nil, fmt.Errorf("eval: plots: %w", err)
	}
	for _, img := range images {
		written = append(written, filepath.Join(dir, img))
	}
	var md bytes.Buffer
	var pngs []string
	for _, img := range images {
		if filepath.Ext(img) == ".png" {
			pngs = append(pngs, img)
		}
	}
	if err := WriteMarkdown(&md, rep, pngs); err != nil {
		return nil, err
	}
	if err := write("report.md", md.Bytes()); err != nil {
		return nil, err
	}
	return written, nil
}
