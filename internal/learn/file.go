package learn

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"embed"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// FormatVersion is the version of the model file format this build
// writes and the only one it reads.
const FormatVersion = 1

// formatName marks a Sextant model file.
const formatName = "sextant-model"

// weightEncoding names how weights are stored: each linear model is a
// little-endian binary block (see encodeLinear), deflated, in base64.
const weightEncoding = "q16-sparse+deflate+base64"

// builtinFS holds the model files shipped in the binary; Load reads
// "builtin:NAME" from builtin/NAME.json.
//
//go:embed builtin/*.json
var builtinFS embed.FS

// BuiltinPrefix marks a model path that names an embedded model file.
const BuiltinPrefix = "builtin:"

// Builtins lists the names of the embedded model files.
func Builtins() []string {
	entries, _ := builtinFS.ReadDir("builtin")
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".json"))
	}
	return out
}

// fileJSON is the model file: a JSON object (optionally gzipped as a
// whole) whose weights are compact encoded blocks.
type fileJSON struct {
	Format         string        `json:"format"`
	Version        int           `json:"version"`
	Kind           string        `json:"kind"`
	Labels         []string      `json:"labels"`
	Input          string        `json:"input"`
	EmbeddingModel string        `json:"embedding_model,omitempty"`
	Featurizer     *Featurizer   `json:"featurizer,omitempty"`
	Dim            int           `json:"dim,omitempty"`
	Numeric        []NumericStat `json:"numeric"`
	Calibration    []Calibration `json:"calibration"`
	Output         string        `json:"output,omitempty"`
	FoldSeed       uint64        `json:"fold_seed"`
	Info           Info          `json:"info"`
	Weights        weightsJSON   `json:"weights"`
}

type weightsJSON struct {
	Encoding string   `json:"encoding"`
	Full     string   `json:"full"`
	Folds    []string `json:"folds,omitempty"`
}

// Load reads the model file at path, or the embedded one for
// "builtin:NAME". A file of another format version is refused with an
// error saying which versions this build reads. The file may be gzipped.
func Load(path string) (*Model, error) {
	var (
		data []byte
		err  error
	)
	if name, ok := strings.CutPrefix(path, BuiltinPrefix); ok {
		data, err = builtinFS.ReadFile("builtin/" + name + ".json")
		if err != nil {
			return nil, fmt.Errorf("learn: no built-in model %q (built in: %s)", name, strings.Join(Builtins(), ", "))
		}
	} else if data, err = os.ReadFile(path); err != nil {
		return nil, fmt.Errorf("learn: %w", err)
	}
	m, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("learn: model %s: %w", path, err)
	}
	return m, nil
}

// Decode reads a model file's bytes (see Load).
func Decode(data []byte) (*Model, error) {
	if len(data) > 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		if data, err = io.ReadAll(io.LimitReader(zr, 1<<30)); err != nil {
			return nil, fmt.Errorf("gunzip: %w", err)
		}
	}
	var head struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("not a model file: %w", err)
	}
	if head.Format != formatName {
		return nil, fmt.Errorf("not a model file (format %q, want %q)", head.Format, formatName)
	}
	if head.Version != FormatVersion {
		return nil, fmt.Errorf("model file version %d is not supported: this build reads version %d; retrain the model with this build's `sextant train`", head.Version, FormatVersion)
	}
	var f fileJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	return f.model()
}

func (f *fileJSON) model() (*Model, error) {
	m := &Model{kind: f.Kind, labels: f.Labels, input: f.Input, embeddingModel: f.EmbeddingModel,
		dim: f.Dim, numeric: f.Numeric, calib: f.Calibration, foldSeed: f.FoldSeed, info: f.Info, output: f.Output}
	switch f.Kind {
	case KindClassifier, KindWinrate, KindGate:
	default:
		return nil, fmt.Errorf("kind %q is not classifier, winrate or gate", f.Kind)
	}
	if len(f.Labels) == 0 || (f.Kind == KindClassifier && len(f.Labels) < 2) {
		return nil, fmt.Errorf("a %s model needs labels, the file has %d", f.Kind, len(f.Labels))
	}
	seen := map[string]bool{}
	for _, l := range f.Labels {
		if seen[l] {
			return nil, fmt.Errorf("label %q appears twice", l)
		}
		seen[l] = true
	}
	features := 0
	switch f.Input {
	case InputText:
		if f.Featurizer == nil {
			return nil, errors.New("a text model needs a featurizer")
		}
		if err := f.Featurizer.validate(); err != nil {
			return nil, err
		}
		m.feat = *f.Featurizer
		features = m.feat.Buckets()
	case InputEmbedding:
		if f.Dim <= 0 || f.Dim > 1<<16 {
			return nil, fmt.Errorf("an embedding model needs a dim in [1,65536], the file has %d", f.Dim)
		}
		if f.EmbeddingModel == "" {
			return nil, errors.New("an embedding model needs embedding_model")
		}
		features = f.Dim
	default:
		return nil, fmt.Errorf("input %q is not text or embedding", f.Input)
	}
	for _, ns := range f.Numeric {
		if ns.Name == "" || !finite(ns.Mean) || !(ns.Std > 0) || math.IsInf(ns.Std, 0) {
			return nil, fmt.Errorf("numeric feature %q needs a name, a finite mean and a positive std", ns.Name)
		}
	}
	switch {
	case f.Output == "" && f.Kind == KindWinrate:
		m.output = OutputIndependent
	case f.Output == OutputIndependent && f.Kind == KindWinrate:
	case f.Output == OutputWinRate && f.Kind == KindWinrate:
	case f.Output == "":
	default:
		return nil, fmt.Errorf("output %q is not independent or win_rate (winrate models only)", f.Output)
	}
	want := len(f.Labels)
	if f.Kind == KindClassifier {
		want = 1
	}
	if len(f.Calibration) != want {
		return nil, fmt.Errorf("a %s model with %d labels needs %d calibrations, the file has %d", f.Kind, len(f.Labels), want, len(f.Calibration))
	}
	for i := range f.Calibration {
		if err := f.Calibration[i].validate(f.Kind); err != nil {
			return nil, fmt.Errorf("calibration[%d]: %w", i, err)
		}
	}
	if f.Kind == KindClassifier && !(f.Calibration[0].A > 0) {
		return nil, errors.New("a classifier's temperature must be positive")
	}
	if f.Weights.Encoding != weightEncoding {
		return nil, fmt.Errorf("weights encoding %q is not %q", f.Weights.Encoding, weightEncoding)
	}
	var err error
	if m.full, err = decodeLinear(f.Weights.Full, features, len(f.Labels), len(f.Numeric)); err != nil {
		return nil, fmt.Errorf("weights.full: %w", err)
	}
	if len(f.Weights.Folds) == 1 {
		return nil, errors.New("weights.folds: one fold model; a file holds none or at least two")
	}
	for k, s := range f.Weights.Folds {
		lin, err := decodeLinear(s, features, len(f.Labels), len(f.Numeric))
		if err != nil {
			return nil, fmt.Errorf("weights.folds[%d]: %w", k, err)
		}
		m.folds = append(m.folds, lin)
	}
	m.info.Version = FormatVersion
	return m, nil
}

// Save writes the model file to path (gzipped as a whole when path ends
// in ".gz"), through a temporary file renamed into place.
func (m *Model) Save(path string) error {
	data, err := m.Encode()
	if err != nil {
		return err
	}
	if strings.HasSuffix(path, ".gz") {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		zw.Write(data)
		if err := zw.Close(); err != nil {
			return err
		}
		data = b.Bytes()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".model-*")
	if err != nil {
		return fmt.Errorf("learn: save: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("learn: save: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("learn: save: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("learn: save: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("learn: save: %w", err)
	}
	return nil
}

// Encode returns the model file's bytes (uncompressed JSON).
func (m *Model) Encode() ([]byte, error) {
	f := fileJSON{
		Format: formatName, Version: FormatVersion, Kind: m.kind, Labels: m.labels, Input: m.input,
		EmbeddingModel: m.embeddingModel, Dim: m.dim, Numeric: m.numeric, Calibration: m.calib,
		FoldSeed: m.foldSeed, Info: m.info, Output: m.output,
	}
	if f.Numeric == nil {
		f.Numeric = []NumericStat{}
	}
	f.Info.Version = FormatVersion
	if m.input == InputText {
		feat := m.feat
		f.Featurizer = &feat
	}
	f.Weights.Encoding = weightEncoding
	var err error
	if f.Weights.Full, err = encodeLinear(m.full, len(m.labels)); err != nil {
		return nil, err
	}
	for _, lin := range m.folds {
		s, err := encodeLinear(lin, len(m.labels))
		if err != nil {
			return nil, err
		}
		f.Weights.Folds = append(f.Weights.Folds, s)
	}
	data, err := json.MarshalIndent(&f, "", " ")
	if err != nil {
		return nil, fmt.Errorf("learn: encode: %w", err)
	}
	return append(data, '\n'), nil
}

// WithoutFolds returns a copy of m without its fold models (a smaller
// file; record ids then have no effect).
func (m *Model) WithoutFolds() *Model {
	c := *m
	c.folds = nil
	c.info.Folds = 0
	return &c
}

// Pruned returns a copy of m whose text weights smaller in magnitude than
// threshold are zero (a smaller file). Biases and numeric weights are
// kept.
func (m *Model) Pruned(threshold float64) *Model {
	c := *m
	prune := func(lin *linear) *linear {
		p := &linear{w: make([]float32, len(lin.w)), num: lin.num, bias: lin.bias}
		for i, v := range lin.w {
			if math.Abs(float64(v)) >= threshold {
				p.w[i] = v
			}
		}
		return p
	}
	c.full = prune(m.full)
	c.folds = nil
	for _, lin := range m.folds {
		c.folds = append(c.folds, prune(lin))
	}
	return &c
}

// encodeLinear writes lin as: magic "SXL1"; uint32 features, labels,
// numeric; float32 scale; float32 biases and numeric weights; uvarint
// count of non-zero feature rows, then for each the uvarint gap from the
// previous row's index and its labels' weights as int16 multiples of
// scale. The block is deflated and base64-encoded.
func encodeLinear(lin *linear, L int) (string, error) {
	features := len(lin.w) / L
	maxAbs := 0.0
	for _, v := range lin.w {
		maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
	}
	scale := float32(maxAbs / 32767)
	if scale == 0 {
		scale = 1
	}
	var raw bytes.Buffer
	raw.WriteString("SXL1")
	le := binary.LittleEndian
	var buf [binary.MaxVarintLen64]byte
	put32 := func(v uint32) { raw.Write(le.AppendUint32(buf[:0], v)) }
	putF := func(v float32) { put32(math.Float32bits(v)) }
	put32(uint32(features))
	put32(uint32(L))
	put32(uint32(len(lin.num) / L))
	putF(scale)
	for _, v := range lin.bias {
		putF(v)
	}
	for _, v := range lin.num {
		putF(v)
	}
	q := func(v float32) int16 { return int16(math.Round(float64(v / scale))) }
	var rows []int
	for f := 0; f < features; f++ {
		for l := 0; l < L; l++ {
			if q(lin.w[f*L+l]) != 0 {
				rows = append(rows, f)
				break
			}
		}
	}
	raw.Write(binary.AppendUvarint(buf[:0], uint64(len(rows))))
	prev := 0
	for _, f := range rows {
		raw.Write(binary.AppendUvarint(buf[:0], uint64(f-prev)))
		prev = f
		for l := 0; l < L; l++ {
			raw.Write(le.AppendUint16(buf[:0], uint16(q(lin.w[f*L+l]))))
		}
	}
	var z bytes.Buffer
	zw, err := flate.NewWriter(&z, flate.BestCompression)
	if err != nil {
		return "", err
	}
	zw.Write(raw.Bytes())
	if err := zw.Close(); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(z.Bytes()), nil
}

// decodeLinear reads a block written by encodeLinear and checks its shape.
func decodeLinear(s string, features, L, nNum int) (*linear, error) {
	zdata, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("base64: %w", err)
	}
	r := bufio.NewReader(flate.NewReader(bytes.NewReader(zdata)))
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil || string(magic[:]) != "SXL1" {
		return nil, errors.New("not a weights block")
	}
	var hdr [4]uint32
	if err := binary.Read(r, binary.LittleEndian, &hdr); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if int(hdr[0]) != features || int(hdr[1]) != L || int(hdr[2]) != nNum {
		return nil, fmt.Errorf("weights are %d features × %d labels with %d numeric, the model needs %d × %d with %d", hdr[0], hdr[1], hdr[2], features, L, nNum)
	}
	scale := math.Float32frombits(hdr[3])
	lin := &linear{w: make([]float32, features*L), bias: make([]float32, L), num: make([]float32, nNum*L)}
	if err := binary.Read(r, binary.LittleEndian, lin.bias); err != nil {
		return nil, fmt.Errorf("biases: %w", err)
	}
	if err := binary.Read(r, binary.LittleEndian, lin.num); err != nil {
		return nil, fmt.Errorf("numeric weights: %w", err)
	}
	for _, v := range append(slicesConcat(lin.bias, lin.num), scale) {
		if !finite(float64(v)) {
			return nil, errors.New("non-finite weight")
		}
	}
	rows, err := binary.ReadUvarint(r)
	if err != nil || rows > uint64(features) {
		return nil, errors.New("bad row count")
	}
	f := 0
	var b [2]byte
	for i := uint64(0); i < rows; i++ {
		gap, err := binary.ReadUvarint(r)
		if err != nil || (i > 0 && gap == 0) || gap >= uint64(features) || f+int(gap) >= features {
			return nil, errors.New("bad row index")
		}
		f += int(gap)
		for l := 0; l < L; l++ {
			if _, err := io.ReadFull(r, b[:]); err != nil {
				return nil, errors.New("truncated weights")
			}
			lin.w[f*L+l] = float32(int16(binary.LittleEndian.Uint16(b[:]))) * scale
		}
	}
	if _, err := r.ReadByte(); err != io.EOF {
		return nil, errors.New("trailing data after the weights")
	}
	return lin, nil
}

func slicesConcat(a, b []float32) []float32 {
	return append(append(make([]float32, 0, len(a)+len(b)+1), a...), b...)
}
