package shard

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/faultline-dev/faultline/results"
)

// Files are what a shard sends back: the merge needs nothing else (figures are recomputed from
// seeds.csv, series and metrics replayed, reports rendered), so a shard stays small.
var Files = []string{"summary.json", "seeds.csv", results.RunInfoFile}

const (
	frameBegin = "faultline-shard/v1"
	frameEnd   = "faultline-shard/v1 end"
	lineWidth  = 76
	// maxFrame bounds a decoded shard (gzip); a seeds.csv of 10,000 seeds × 6 variants is a
	// few MiB before compression.
	maxFrame = 64 << 20
)

// Encode writes the Files of run directory dir to w as a frame: a begin line with the shard's
// index, the SHA-256 and length of the payload, the payload (a gzip tar) in base64 lines, an end
// line. Lines around the frame are ignored by Decode, so it can share a pod's log with anything
// else the program prints.
func Encode(w io.Writer, index int, dir string) error {
	var payload bytes.Buffer
	zw := gzip.NewWriter(&payload)
	tw := tar.NewWriter(zw)
	for _, name := range Files {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))}); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	sum := sha256.Sum256(payload.Bytes())
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%s index=%d sha256=%s bytes=%d\n", frameBegin, index, hex.EncodeToString(sum[:]), payload.Len())
	enc := base64.StdEncoding.EncodeToString(payload.Bytes())
	for len(enc) > 0 {
		n := min(lineWidth, len(enc))
		bw.WriteString(enc[:n])
		bw.WriteByte('\n')
		enc = enc[n:]
	}
	bw.WriteString(frameEnd + "\n")
	return bw.Flush()
}

// ErrNoFrame says a log held no complete shard frame: the pod did not finish, or the log was
// rotated or cut.
var ErrNoFrame = errors.New("no complete shard frame in the log")

// Decode reads the frame Encode wrote from r, checks its length and SHA-256, and writes the
// Files into dir (created). It returns the index the frame names. Anything but the Files, a
// payload over 64 MiB or a checksum mismatch is an error.
func Decode(r io.Reader, dir string) (int, error) {
	sc := bufio.NewScanner(io.LimitReader(r, 2*maxFrame))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var (
		in    bool
		index int
		want  string
		size  int
		b64   strings.Builder
	)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case !in && strings.HasPrefix(line, frameBegin+" index="):
			var err error
			if index, want, size, err = parseBegin(line); err != nil {
				return 0, err
			}
			in = true
			b64.Reset()
		case in && line == frameEnd:
			payload, err := base64.StdEncoding.DecodeString(b64.String())
			if err != nil {
				return 0, fmt.Errorf("shard frame: %w", err)
			}
			sum := sha256.Sum256(payload)
			if len(payload) != size || hex.EncodeToString(sum[:]) != want {
				return 0, fmt.Errorf("shard frame of index %d: %d bytes with sha256 %s, the frame announced %d bytes with %s: the log was cut or altered", index, len(payload), hex.EncodeToString(sum[:]), size, want)
			}
			return index, untar(payload, dir)
		case in:
			if b64.Len()+len(line) > 2*maxFrame {
				return 0, fmt.Errorf("shard frame of index %d: more than %d bytes", index, maxFrame)
			}
			b64.WriteString(line)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, ErrNoFrame
}

func parseBegin(line string) (index int, sum string, size int, err error) {
	f := strings.Fields(line)
	bad := fmt.Errorf("shard frame: begin line %q: expected %q index=N sha256=HEX bytes=N", line, frameBegin)
	if len(f) != 4 {
		return 0, "", 0, bad
	}
	idx, ok1 := strings.CutPrefix(f[1], "index=")
	sum, ok2 := strings.CutPrefix(f[2], "sha256=")
	n, ok3 := strings.CutPrefix(f[3], "bytes=")
	if !ok1 || !ok2 || !ok3 {
		return 0, "", 0, bad
	}
	if index, err = strconv.Atoi(idx); err != nil || index < 0 {
		return 0, "", 0, bad
	}
	if size, err = strconv.Atoi(n); err != nil || size < 0 || size > maxFrame {
		return 0, "", 0, bad
	}
	return index, sum, size, nil
}

func untar(payload []byte, dir string) error {
	zr, err := gzip.NewReader(bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("shard frame: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tr := tar.NewReader(io.LimitReader(zr, 4*maxFrame))
	seen := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("shard frame: %w", err)
		}
		if h.Typeflag != tar.TypeReg || !slices.Contains(Files, h.Name) || seen[h.Name] {
			return fmt.Errorf("shard frame: unexpected entry %q (expected each of %s once)", h.Name, strings.Join(Files, ", "))
		}
		seen[h.Name] = true
		data, err := io.ReadAll(tr)
		if err != nil {
			return fmt.Errorf("shard frame: %s: %w", h.Name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, h.Name), data, 0o644); err != nil {
			return err
		}
	}
	for _, name := range Files {
		if !seen[name] {
			return fmt.Errorf("shard frame: %s is missing", name)
		}
	}
	return nil
}
