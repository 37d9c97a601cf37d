package filestore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/filestore"
)

func Example() {
	dir, err := os.MkdirTemp("", "ipgate-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	st, err := filestore.Open(dir, &filestore.Options{PollInterval: 10 * time.Millisecond})
	if err != nil {
		fmt.Println(err)
		return
	}
	office := policy.Rule{ID: "office", Target: rangeset.MustParseRange("10.0.0.0/8"), Action: policy.Allow}
	_, rev, err := st.CreateRule(ctx, "site-1", office, store.Any)
	fmt.Println("revision", rev, err)

	// The store is also a store.Watcher. A deploy tool renames a new
	// document over it: watchers are told, and Load serves it under a new
	// revision.
	ch, err := st.(store.Watcher).Watch(ctx, "site-1")
	if err != nil {
		fmt.Println(err)
		return
	}
	tmp := filepath.Join(dir, "deploy.tmp")
	os.WriteFile(tmp, []byte(`{"rules": [{"id": "vpn", "ip": "192.0.2.0/24", "action": "allow"}]}`), 0o600)
	os.Rename(tmp, filepath.Join(dir, "site-1.json"))
	<-ch
	p, now, err := st.Load(ctx, "site-1")
	fmt.Println(p.Rules[0].ID, now > rev, err)
	// Output:
	// revision 1 <nil>
	// vpn true <nil>
}
