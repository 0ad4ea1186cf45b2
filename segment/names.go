package segment

import (
	"fmt"
	"strconv"
	"strings"
)

// FileSuffix is the extension of segment files.
const FileSuffix = ".log"

// fileNameDigits is the width of the zero-padded base offset in a segment file name (frozen, as Kafka's).
const fileNameDigits = 20

// FileName returns the name of the segment whose base offset is baseOffset: 20 zero-padded decimal digits and
// ".log", as Kafka names them ("00000000000000000042.log").
func FileName(baseOffset int64) string {
	return fmt.Sprintf("%0*d%s", fileNameDigits, baseOffset, FileSuffix)
}

// ParseFileName returns the base offset in a segment file name as FileName writes it; ok is false for any
// other name.
func ParseFileName(name string) (baseOffset int64, ok bool) {
	digits, found := strings.CutSuffix(name, FileSuffix)
	if !found || len(digits) != fileNameDigits {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, false
	}
	return v, true
}
