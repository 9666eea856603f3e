// Writes go_tlog.json: tiles, roots and proofs of Go's golang.org/x/mod/sumdb/tlog at height 8,
// the reference that tracetag.formats.tiles must agree with (tests/formats/test_tiles.py).
//
// In an empty folder with this file: go mod init gen && go get golang.org/x/mod@v0.30.0 &&
// go run generate.go > go_tlog.json
package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

const height = 8

type storage []tlog.Hash

func (s storage) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		out[i] = s[x]
	}
	return out, nil
}

// tileReader builds each tile from the stored hashes, so proofs go through TileHashReader.
type tileReader struct{ s storage }

func (r tileReader) Height() int { return height }
func (r tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, err := tlog.ReadTileData(t, r.s)
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}
func (r tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

// c2sp turns Go's tile/8/L/N path into C2SP's tile/L/N, and tile/8/data/N into tile/entries/N.
func c2sp(goPath string) string {
	p := strings.TrimPrefix(goPath, "tile/8/")
	if strings.HasPrefix(p, "data/") {
		p = "entries/" + strings.TrimPrefix(p, "data/")
	}
	return "tile/" + p
}

func goForm(c2spPath string) string {
	p := strings.TrimPrefix(c2spPath, "tile/")
	if strings.HasPrefix(p, "entries/") {
		p = "data/" + strings.TrimPrefix(p, "entries/")
	}
	return "tile/8/" + p
}

func paths(tiles []tlog.Tile) []string {
	out := []string{}
	for _, t := range tiles {
		out = append(out, c2sp(t.Path()))
	}
	return out
}

func proofDigest(proof []tlog.Hash) string {
	digest := sha256.New()
	for _, h := range proof {
		digest.Write(h[:])
	}
	return hex.EncodeToString(digest.Sum(nil))
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

type tileJSON struct {
	Level int   `json:"level"`
	Index int64 `json:"index"`
	Width int   `json:"width"`
}

func main() {
	const maxSize = 70000
	var s storage
	for i := int64(0); i < maxSize; i++ {
		var data [4]byte
		binary.BigEndian.PutUint32(data[:], uint32(i))
		hashes, err := tlog.StoredHashes(i, data[:], s)
		must(err)
		s = append(s, hashes...)
	}
	out := map[string]any{
		"source": "golang.org/x/mod v0.30.0 sumdb/tlog at height 8 (generate.go)",
		"leaves": "leaf i is tlog.RecordHash of i as 4 big-endian bytes",
	}

	type pathCase struct {
		Path string    `json:"path"`
		Tile *tileJSON `json:"tile"`
	}
	var parsed []pathCase
	for _, p := range []string{
		"tile/0/000", "tile/0/001", "tile/0/001.p/5", "tile/5/x123/x456/078",
		"tile/5/x123/x456/078.p/2", "tile/0/x003/x057/500", "tile/entries/x003/x057/500",
		"tile/entries/000.p/1", "tile/63/000", "tile/0/x001/x234/067", "tile/0/999.p/255",
		"tile/0/x009/x223/x372/x036/x854/x775/807",
		"tile/5/123/456/078", "tile/-1/123/456/078", "tile/0/000.p/256", "tile/0/000.p/0",
		"tile/0/000.p/05", "tile/0/000.p/", "tile/0/00", "tile/0/0000", "tile/0/x000/001",
		"tile/00/000", "tile/01/000", "tile/0/x001", "tile/0/001/", "tile/0/001.p",
		"tile/0/x1000/000", "tile/0/1", "tile/0/x009/x223/x372/x036/x854/x775/808",
		"tile/0/+01", "tile/0/ 01", "tile/0/\u0660\u0660\u0661", "tile/0/001.p/5/",
		"tile/0/001.p/+5", "tile/0/001.p/-5", "tile/0/000.p/1000", "tile/entries/000.p/256",
		"tile/0", "tile/", "tile/0/x000/x000/001", "tile/x0/000", "tile/0/X001/000",
	} {
		c := pathCase{Path: p}
		if t, err := tlog.ParseTilePath(goForm(p)); err == nil {
			c.Tile = &tileJSON{t.L, t.N, t.W}
		}
		parsed = append(parsed, c)
	}
	out["parse"] = parsed

	var printed []pathCase
	for _, l := range []int{-1, 0, 1, 5, 63} {
		for _, n := range []int64{0, 1, 999, 1000, 1234067, 123456078, 1<<63 - 1} {
			for _, w := range []int{1, 255, 256} {
				t := tlog.Tile{H: height, L: l, N: n, W: w}
				printed = append(printed, pathCase{c2sp(t.Path()), &tileJSON{l, n, w}})
			}
		}
	}
	out["print"] = printed

	type newTiles struct {
		Old   int64    `json:"old"`
		New   int64    `json:"new"`
		Tiles []string `json:"tiles"`
	}
	var grown []newTiles
	for _, c := range [][2]int64{
		{0, 1}, {1, 1}, {1, 2}, {100, 101}, {255, 256}, {255, 257}, {256, 257}, {1023, 1025},
		{1024, 1030}, {1030, 2000}, {1030, 10000}, {65535, 65536}, {65535, 65537},
		{65791, 65793}, {16777215, 16777217}, {49516517, 49516586},
	} {
		grown = append(grown, newTiles{c[0], c[1], paths(tlog.NewTiles(height, c[0], c[1]))})
	}
	out["new_tiles"] = grown

	type tree struct {
		Size   int64  `json:"size"`
		Root   []byte `json:"root"`
		Tiles  int    `json:"tiles"`
		Digest string `json:"tiles_sha256"`
	}
	// A proof is kept as its length and the SHA-256 of its hashes one after another.
	type inclusion struct {
		Size   int64  `json:"size"`
		Index  int64  `json:"index"`
		Length int    `json:"length"`
		Digest string `json:"proof_sha256"`
	}
	type consistency struct {
		Old    int64  `json:"old"`
		New    int64  `json:"new"`
		Length int    `json:"length"`
		Digest string `json:"proof_sha256"`
	}
	var trees []tree
	var inclusions []inclusion
	var consistencies []consistency
	sizes := []int64{1, 2, 3, 255, 256, 257, 511, 512, 513, 65535, 65536, 65537, 65792, 70000}
	for _, size := range sizes {
		root, err := tlog.TreeHash(size, s)
		must(err)
		// Every tile of the tree, in NewTiles' order, hashed as path "\n" data.
		tiles := tlog.NewTiles(height, 0, size)
		digest := sha256.New()
		for _, t := range tiles {
			data, err := tlog.ReadTileData(t, s)
			must(err)
			digest.Write([]byte(c2sp(t.Path()) + "\n"))
			digest.Write(data)
		}
		trees = append(trees, tree{size, root[:], len(tiles), hex.EncodeToString(digest.Sum(nil))})

		reader := tlog.TileHashReader(tlog.Tree{N: size, Hash: root}, tileReader{s})
		for _, index := range []int64{0, 1, 254, 255, 256, 257, size / 2, size - 2, size - 1} {
			if index < 0 || index >= size {
				continue
			}
			p, err := tlog.ProveRecord(size, index, reader)
			must(err)
			inclusions = append(inclusions, inclusion{size, index, len(p), proofDigest(p)})
		}
		for _, old := range []int64{1, 2, 255, 256, 257, 65535, 65536, size / 2, size - 1, size} {
			if old < 1 || old > size {
				continue
			}
			p, err := tlog.ProveTree(size, old, reader)
			must(err)
			consistencies = append(consistencies, consistency{old, size, len(p), proofDigest(p)})
		}
	}
	out["trees"] = trees
	out["inclusion"] = inclusions
	out["consistency"] = consistencies

	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	must(enc.Encode(out))
}
